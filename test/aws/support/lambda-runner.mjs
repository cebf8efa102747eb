// A Lambda-like runtime for one function: loads the bundle once (the init phase), then
// serves invocations one at a time over IPC, as one Lambda execution environment does.
// Usage: node lambda-runner.mjs <taskRoot> <moduleFile> <exportName>
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [taskRoot, moduleFile, exportName] = process.argv.slice(2);
process.chdir(taskRoot);
const initStarted = performance.now();
let handler;
try {
  const mod = await import(pathToFileURL(join(taskRoot, moduleFile)).href);
  handler = mod[exportName];
  if (typeof handler !== 'function') throw new Error(`${moduleFile} does not export a function ${exportName}`);
} catch (e) {
  process.send({ type: 'init-error', errorType: e?.name ?? 'Error', errorMessage: String(e?.message ?? e) });
  process.exit(1);
}
process.send({ type: 'ready', initMs: performance.now() - initStarted });

const timeoutMs = Number(process.env.AWS_LAMBDA_FUNCTION_TIMEOUT ?? '3') * 1000;
process.on('message', async (msg) => {
  if (msg?.type !== 'invoke') return;
  const requestId = msg.requestId ?? randomUUID();
  const deadline = Date.now() + timeoutMs;
  const context = {
    awsRequestId: requestId,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: '$LATEST',
    invokedFunctionArn: msg.functionArn,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: `/aws/lambda/${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
    logStreamName: 'e2e',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
  try {
    const result = await handler(msg.event, context);
    process.send({ type: 'result', id: msg.id, result: result === undefined ? null : result });
  } catch (e) {
    process.send({
      type: 'error',
      id: msg.id,
      errorType: e?.name ?? 'Error',
      errorMessage: String(e?.message ?? e),
      trace: String(e?.stack ?? '').split('\n'),
    });
  }
});
