/**
 * The signed Lambda invoke both the serving warm-up and the event dispatcher's kick use, against
 * a stand-in of Lambda's Invoke REST API (a real HTTP server): the asynchronous variant asks for
 * an `Event` invocation, and the Lambda composition's kick invokes the dispatcher function so.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LambdaInvoker } from '../../lib/platform/adapters/shared/lambda-invoke.js';
import { EVENT_KICK, lambdaAdapters } from '../../lib/platform/composition/lambda.js';
import type { Config } from '../../lib/platform/config.js';

let server: Server;
let url: string;
let status = 202;
const seen: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ path: req.url!, headers: req.headers, body });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 202 ? '' : JSON.stringify({ Type: 'User', message: 'User is not authorized to perform: lambda:InvokeFunction' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  status = 202;
  seen.length = 0;
});

const credentials = async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' });

it('queues an asynchronous (Event) invocation, signed for lambda in the region', async () => {
  await new LambdaInvoker({ functionName: 'aegis-dev-dispatch', region: 'eu-west-1', endpoint: url, credentials }).invokeAsync({ a: 1 });
  expect(seen).toHaveLength(1);
  expect(seen[0]!.path).toBe('/2015-03-31/functions/aegis-dev-dispatch/invocations');
  expect(seen[0]!.headers['x-amz-invocation-type']).toBe('Event');
  expect(seen[0]!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request/);
  expect(JSON.parse(seen[0]!.body)).toEqual({ a: 1 });
});

it('throws with what Lambda said when it does not accept the invocation', async () => {
  status = 403;
  await expect(
    new LambdaInvoker({ functionName: 'aegis-dev-dispatch', region: 'eu-west-1', endpoint: url, credentials }).invokeAsync({}),
  ).rejects.toThrow('invoking aegis-dev-dispatch failed (HTTP 403): User is not authorized to perform: lambda:InvokeFunction');
});

describe('the Lambda composition kick', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_LAMBDA: url,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
    });
  });
  afterEach(() => {
    process.env = { ...saved };
  });
  const config = (dispatchFunction?: string) => ({ events: { ...(dispatchFunction && { dispatchFunction }) } }) as unknown as Config;

  it('invokes AEGIS_EVENT_DISPATCH_FUNCTION asynchronously with the kick event', async () => {
    const kick = lambdaAdapters().eventKick!(config('aegis-dev-event-dispatch'));
    await kick!();
    expect(seen.map((s) => [s.path, s.headers['x-amz-invocation-type'], JSON.parse(s.body)])).toEqual([
      ['/2015-03-31/functions/aegis-dev-event-dispatch/invocations', 'Event', EVENT_KICK],
    ]);
  });

  it('does nothing without a dispatch function: the function never runs the dispatcher itself (the schedule delivers)', async () => {
    const kick = lambdaAdapters().eventKick!(config());
    expect(kick).toBeDefined();
    await kick!();
    expect(seen).toEqual([]);
  });

  it('has no bus publisher but in the dispatcher function (lambda-dispatch-container.ts)', () => {
    expect(lambdaAdapters().eventBus).toBeUndefined();
  });
});
