/**
 * Lambda's Invoke API (`POST /2015-03-31/functions/{FunctionName}/invocations`) for the
 * bundles of the world: a function that invokes another (the rollout step warming the serving
 * function) reaches it through `AWS_ENDPOINT_URL_LAMBDA`, as it would reach Lambda. The function
 * is named as a deployment names it (its name, its ARN, either with a qualifier); a synchronous
 * invocation answers 200 with the result, and a function error with the header
 * `X-Amz-Function-Error: Unhandled` and the error as the payload, as Lambda does; an asynchronous
 * one (`X-Amz-Invocation-Type: Event`: a commit waking the event dispatcher) answers 202 at once
 * and runs the function after (a failure goes to `asyncErrors`, as Lambda would retry it and then
 * record it on its on-failure destination). Every call is kept in `calls` (who was invoked, with
 * what, how), so a test can count them.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LambdaInvokeError } from './lambdas.js';

const PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
const ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:([A-Za-z0-9_-]+)(?::[A-Za-z0-9$_-]+)?$/;

export interface RunningLambdaInvoke {
  endpoint: string;
  calls: { functionName: string; logicalId: string; payload: unknown; type: 'RequestResponse' | 'Event' }[];
  /** asynchronous invocations that failed */
  asyncErrors: { logicalId: string; error: string }[];
  stop(): Promise<void>;
}

/** `functions` maps a function's physical name to its logical id; `invoke` runs the bundle. */
export async function startLambdaInvoke(opts: {
  functions: Map<string, string>;
  invoke(logicalId: string, payload: unknown): Promise<unknown>;
}): Promise<RunningLambdaInvoke> {
  const calls: RunningLambdaInvoke['calls'] = [];
  const asyncErrors: RunningLambdaInvoke['asyncErrors'] = [];
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body ?? null));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://lambda');
    const m = PATH.exec(url.pathname);
    if (req.method !== 'POST' || !m) return send(res, 404, { Type: 'User', message: `no route ${req.method} ${url.pathname}` });
    const named = decodeURIComponent(m[1]!);
    const name = ARN.exec(named)?.[1] ?? named.split(':')[0]!;
    const logicalId = opts.functions.get(name);
    if (!logicalId)
      return send(res, 404, { Type: 'User', message: `Function not found: ${named}` }, { 'x-amzn-errortype': 'ResourceNotFoundException' });
    const type = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
    if (type !== 'RequestResponse' && type !== 'Event')
      return send(
        res,
        400,
        { message: 'only RequestResponse and Event invocations are emulated' },
        { 'x-amzn-errortype': 'InvalidParameterValueException' },
      );
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const payload: unknown = text ? JSON.parse(text) : {};
    calls.push({ functionName: named, logicalId, payload, type });
    if (type === 'Event') {
      res.writeHead(202);
      res.end();
      opts.invoke(logicalId, payload).catch((e: unknown) => asyncErrors.push({ logicalId, error: (e as Error).message }));
      return;
    }
    try {
      send(res, 200, await opts.invoke(logicalId, payload), { 'x-amz-executed-version': '$LATEST' });
    } catch (e) {
      if (!(e instanceof LambdaInvokeError)) throw e;
      send(res, 200, { errorType: e.errorType, errorMessage: e.errorMessage }, { 'x-amz-function-error': 'Unhandled' });
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => send(res, 500, { message: (e as Error).message }, { 'x-amzn-errortype': 'ServiceException' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    asyncErrors,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
