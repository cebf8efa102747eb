/**
 * The LambdaWarmer against a stand-in of Lambda's Invoke REST API (a real HTTP server; the AWS
 * suite's emulator runs bundles without that API): the SigV4-signed request names the serving
 * function, carries the warm-up event, and the serving handler answers it with the warm-up
 * result instead of treating it as an API request. Function errors and refused calls are
 * warm-ups that are not ok, with the reason.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';
import { LambdaWarmer } from '../../lib/platform/adapters/serving/lambda-warmer.js';
import type { Container } from '../../lib/platform/composition/container.js';
import type { WarmUpRequest } from '../../lib/platform/ports/serving-warmer.js';
import { servingHandler } from '../../lambdas/serving-predict.js';

let server: Server;
let url: string;
let reply: (req: IncomingMessage, body: string) => Promise<{ status: number; headers?: Record<string, string>; body: string }>;
const seen: { path: string; auth: string | undefined; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ path: req.url!, auth: req.headers.authorization, body });
      void reply(req, body).then((r) => {
        res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
        res.end(r.body);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:aegis-serving:live';
const credentials = async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' });
const warmer = () => new LambdaWarmer({ functionName: ARN, endpoint: url, credentials });
const request: WarmUpRequest = { modelName: 'churn', env: 'prod', artifactId: 'a'.repeat(64), requests: 3 };

it('invokes the serving function with the warm-up event, which its handler answers with the warm-up result', async () => {
  const asked: WarmUpRequest[] = [];
  const container = {
    serving: { warmUp: async (w: WarmUpRequest) => (asked.push(w), { ok: true, answered: 3, requests: 3, inputs: 'synthetic' }) },
  };
  const handler = servingHandler(async () => container as unknown as Container);
  reply = async (_req, body) => ({ status: 200, body: JSON.stringify(await handler(JSON.parse(body), {} as Context)) });
  expect(await warmer().warmUp(request)).toEqual({ ok: true, answered: 3, requests: 3, inputs: 'synthetic' });
  expect(asked).toEqual([request]);
  const call = seen.at(-1)!;
  expect(call.path).toBe(`/2015-03-31/functions/${encodeURIComponent(ARN)}/invocations`);
  expect(call.auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request/);
  expect(JSON.parse(call.body)).toEqual({ aegisWarmUp: request });
});

it('answers a malformed warm-up event with a result that is not ok, naming the field', async () => {
  const container = {
    serving: {
      warmUp: async () => {
        const { checkWarmUp } = await import('../../lib/modules/serving/warm-up.js');
        checkWarmUp({ ...request, requests: 0 });
        throw new Error('unreachable');
      },
    },
  };
  const handler = servingHandler(async () => container as unknown as Container);
  expect(await handler({ aegisWarmUp: { ...request, requests: 0 } }, {} as Context)).toMatchObject({
    ok: false,
    reason: expect.stringMatching(/^requests: a whole number from 1 to 1000/),
  });
});

it('reports a function error and a refused invocation as warm-ups that are not ok, with the reason', async () => {
  reply = async () => ({
    status: 200,
    headers: { 'x-amz-function-error': 'Unhandled' },
    body: JSON.stringify({ errorType: 'Error', errorMessage: 'database unavailable' }),
  });
  expect(await warmer().warmUp(request)).toEqual({
    ok: false,
    answered: 0,
    requests: 3,
    inputs: 'synthetic',
    reason: 'the serving function failed the warm-up (Unhandled): database unavailable',
  });
  reply = async () => ({ status: 403, body: JSON.stringify({ Message: 'not authorized to perform lambda:InvokeFunction' }) });
  expect(await warmer().warmUp(request)).toMatchObject({
    ok: false,
    reason: `invoking ${ARN} failed (HTTP 403): not authorized to perform lambda:InvokeFunction`,
  });
  reply = async () => ({ status: 200, body: 'null' });
  expect(await warmer().warmUp(request)).toMatchObject({ ok: false, reason: expect.stringMatching(/no warm-up result/) });
});

it('is built without a region (no container fails for it), and a warm-up without one is not ok, saying so', async () => {
  const region = process.env.AWS_REGION;
  delete process.env.AWS_REGION;
  try {
    const w = new LambdaWarmer({ functionName: 'aegis-serving', credentials });
    expect(await w.warmUp(request)).toMatchObject({
      ok: false,
      reason: 'invoking aegis-serving failed: no region for aegis-serving (set AWS_REGION)',
    });
  } finally {
    if (region !== undefined) process.env.AWS_REGION = region;
  }
});
