import { randomBytes } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { serviceMetrics } from '../../lib/platform/metrics.js';
import type { Container } from '../../lib/platform/composition/container.js';
import { build as buildModelsList } from '../../lambdas/models-list.js';
import { manifestFor, registerDatasets, startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';

/** Server-side faults are 503 with a retryable code and the request id, never a client error and never code-less. */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const count = async (t: 'artifacts' | 'audit_events') =>
  Number(
    (
      await stack.container.database.db
        .selectFrom(t)
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('signing faults', () => {
  it('answers a signing outage (the manifest key is unreachable) with 503 SIGNING_UNAVAILABLE, not 422 KEY_UNKNOWN; nothing is written and a retry succeeds', async () => {
    const file = join(stack.dataDir, 'keys', 'manifest-signer-v1.pem');
    const bytes = randomBytes(900);
    await registerDatasets(stack, manifestFor('outage', bytes));
    await rename(file, `${file}.away`);
    const before = [await count('artifacts'), await count('audit_events')];
    const res = await uploadAndRegister(stack, 'outage', bytes);
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ code: 'SIGNING_UNAVAILABLE', retryable: true, requestId: expect.any(String) });
    expect(res.body.error.message).not.toMatch(/manifest-signer-v1\.pem|\//);
    expect([await count('artifacts'), await count('audit_events')]).toEqual(before);

    await rename(`${file}.away`, file);
    const retry = await uploadAndRegister(stack, 'outage', bytes);
    expect(retry.status).toBe(201);
  });

  it('answers a registration with no active manifest key with 503 NO_ACTIVE_SIGNING_KEY naming the purpose; rotating a key in fixes it', async () => {
    const revoked = await stack.api('POST', '/v1/keys/manifest-signer-v1/revoke');
    expect(revoked.status).toBe(200);
    const before = [await count('artifacts'), await count('audit_events')];
    const res = await uploadAndRegister(stack, 'no-key', randomBytes(700));
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ code: 'NO_ACTIVE_SIGNING_KEY', retryable: true, requestId: expect.any(String) });
    expect(res.body.error.message).toMatch(/manifest/);
    expect([await count('artifacts'), await count('audit_events')]).toEqual(before);

    expect((await stack.api('POST', '/v1/keys/rotate', { purpose: 'manifest' })).status).toBe(200);
    expect((await uploadAndRegister(stack, 'no-key', randomBytes(700))).status).toBe(201);
  });
});

describe('dependency faults through the Lambda handler', () => {
  const ctx = { awsRequestId: 'req-1' } as Context;
  const event = {
    resource: '/v1/registry/models',
    path: '/v1/registry/models',
    httpMethod: 'GET',
    headers: {},
    queryStringParameters: null,
    pathParameters: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { requestId: 'req-1' },
  } as unknown as APIGatewayProxyEvent;
  const failing = (error: unknown) =>
    buildModelsList(
      async () =>
        ({
          auth: { authenticate: async () => ({ id: 'reader', role: 'auditor', scope: 'global' as const }) },
          registry: { listModels: async () => Promise.reject(error) },
          logger: { info() {}, warn() {}, error() {} },
          metrics: serviceMetrics([]),
          config: {},
        }) as unknown as Container,
    );

  it.each([
    [
      'a dropped database connection',
      Object.assign(new Error('Connection terminated unexpectedly'), { code: '57P01' }),
      'DATABASE_UNAVAILABLE',
    ],
    [
      'a refused database connection',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      'DEPENDENCY_UNAVAILABLE',
    ],
    ['too many connections', Object.assign(new Error('sorry, too many clients already'), { code: '53300' }), 'DATABASE_UNAVAILABLE'],
    ['a serialization failure', Object.assign(new Error('could not serialize access'), { code: '40001' }), 'TRANSACTION_CONFLICT'],
    // through the Data API the state is only in the message Aurora ends with
    [
      'a deadlock through the Data API',
      Object.assign(new Error('ERROR: deadlock detected\n  Detail: Process 1 waits for ShareLock; SQLState: 40P01'), {
        name: 'DatabaseErrorException',
      }),
      'TRANSACTION_CONFLICT',
    ],
    [
      'an AWS service fault',
      Object.assign(new Error('We encountered an internal error'), {
        name: 'InternalError',
        $fault: 'server',
        $metadata: { httpStatusCode: 500 },
      }),
      'DEPENDENCY_UNAVAILABLE',
    ],
    [
      'AWS throttling',
      Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 } }),
      'DEPENDENCY_UNAVAILABLE',
    ],
  ])('answers %s with 503 and a retryable code, showing nothing internal', async (_name, error, code) => {
    const res = await failing(error)(event, ctx);
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['retry-after']).toBe('1');
    const body = JSON.parse(res.body);
    expect(body.error).toEqual({ code, message: expect.any(String), retryable: true, requestId: 'req-1' });
    expect(res.body).not.toMatch(/5432|ECONNREFUSED|serialize|deadlock|Rate exceeded|clients/);
  });

  it('keeps a programming error a 500 INTERNAL', async () => {
    const res = await failing(new TypeError('x is not a function'))(event, ctx);
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body).error).toEqual({ code: 'INTERNAL', message: 'internal error', requestId: 'req-1' });
  });
});
