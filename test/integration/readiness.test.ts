import { checkReadiness, type ReadinessTargets } from '../../lib/platform/readiness.js';
import { startStack, type Stack } from '../support/local-stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe('liveness and readiness on the local stack', () => {
  it('answers /healthz without credentials with ok, mode and version only', async () => {
    const health = await stack.api('GET', '/healthz', undefined, { token: null });
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ ok: true, mode: 'local', version: '0.1.0' });
  });

  it('refuses /v1/readyz without credentials and answers any role with each dependency ok', async () => {
    const anonymous = await stack.api('GET', '/v1/readyz', undefined, { token: null });
    expect(anonymous.status).toBe(401);
    const reader = (await stack.api('POST', '/v1/tokens', { principal: 'probe', role: 'reader' })).body.token;
    const ready = await stack.api('GET', '/v1/readyz', undefined, { token: reader });
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({
      ok: true,
      mode: 'local',
      version: '0.1.0',
      checks: { database: 'ok', objectStore: 'ok', signer: 'ok' },
    });
  });

  it('answers 503 naming the signer when the key ring has no active manifest key, and 200 once one is rotated in', async () => {
    expect((await stack.api('POST', '/v1/keys/manifest-signer-v1/revoke')).status).toBe(200);
    const down = await stack.api('GET', '/v1/readyz');
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ ok: false, checks: { database: 'ok', objectStore: 'ok', signer: 'unreachable' } });
    // liveness does not care
    expect((await stack.api('GET', '/healthz', undefined, { token: null })).status).toBe(200);

    expect((await stack.api('POST', '/v1/keys/rotate', { purpose: 'manifest' })).status).toBe(200);
    expect((await stack.api('GET', '/v1/readyz')).status).toBe(200);
  });
});

describe('checkReadiness', () => {
  const never = () => new Promise<never>(() => undefined);
  const targets = (over: Partial<Record<'database' | 'store' | 'signer', () => Promise<unknown>>>) => {
    const warnings: unknown[][] = [];
    const t = {
      database: { db: { getExecutor: () => ({}) } },
      store: { head: over.store ?? (async () => undefined) },
      keys: { assertActiveUsable: over.signer ?? (async () => undefined) },
      logger: { warn: (...args: unknown[]) => void warnings.push(args) },
    };
    // the database check runs `select 1` through Kysely: stand in with an executor that answers or hangs
    const answer = over.database ?? (async () => ({ rows: [{ '?column?': 1 }] }));
    t.database.db = {
      getExecutor: () => ({
        transformQuery: (node: unknown) => node,
        compileQuery: () => ({ sql: 'select 1', parameters: [], query: {} }),
        executeQuery: answer,
      }),
    } as never;
    return { t: t as unknown as ReadinessTargets, warnings };
  };

  it('reports a dependency that does not answer within the bound as unreachable, the others ok', async () => {
    const { t } = targets({ database: never });
    const started = Date.now();
    const r = await checkReadiness(t, 50);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(r).toEqual({ ok: false, checks: { database: 'unreachable', objectStore: 'ok', signer: 'ok' } });
  });

  it('keeps why a dependency failed out of the result and in the log', async () => {
    const { t, warnings } = targets({
      store: () => Promise.reject(new Error('AccessDenied on arn:aws:s3:::secret-bucket')),
      signer: () => Promise.reject(new Error('the active audit key k1 is Disabled')),
    });
    const r = await checkReadiness(t, 1_000);
    expect(r).toEqual({ ok: false, checks: { database: 'ok', objectStore: 'unreachable', signer: 'unreachable' } });
    expect(JSON.stringify(r)).not.toMatch(/secret-bucket|Disabled/);
    expect(JSON.stringify(warnings)).toMatch(/secret-bucket/);
    expect(JSON.stringify(warnings)).toMatch(/Disabled/);
  });
});

describe('the /healthz Lambda handler', () => {
  it('answers without building a container: no configuration, no database, no startup check', async () => {
    const { handler } = await import('../../lambdas/health.js');
    const reply = await handler(
      { resource: '/healthz', path: '/healthz', httpMethod: 'GET', headers: {}, requestContext: { requestId: 'r-1' } } as never,
      {} as never,
    );
    expect(reply.statusCode).toBe(200);
    expect(reply.headers).toMatchObject({ 'x-request-id': 'r-1' });
    expect(JSON.parse(reply.body)).toEqual({ ok: true, mode: 'lambda', version: '0.1.0' });
  });
});
