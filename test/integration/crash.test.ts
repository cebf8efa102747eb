import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { REGISTRY_DEFAULTS } from '../../lib/platform/composition/services.js';
import type { DB } from '../../lib/platform/sql/schema.js';
import type { Database } from '../../lib/platform/ports/database.js';
import { RegistryService } from '../../lib/modules/registry/service.js';
import { manifestFor, registerDatasets, startStack, type Stack } from '../support/local-stack.js';

/**
 * A registration killed between the object writes and the database commit: the commit is
 * made to fail after the transaction's work ran (a fault injected at the Database port), so
 * the objects exist and the transaction rolls back, as after a crash.
 */
function killedBeforeCommit(real: Database): Database {
  const db = new Proxy(real.db, {
    get(target, prop) {
      if (prop === 'transaction') {
        return () => {
          const builder = target.transaction();
          return {
            execute: (cb: (tx: unknown) => Promise<unknown>) =>
              builder.execute(async (tx) => {
                await cb(tx);
                throw new Error('process killed before commit');
              }),
          };
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as Kysely<DB>;
  return { kind: real.kind, db, close: () => real.close() };
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe('a registration that crashes before its commit', () => {
  it('leaves no record and no audit event; a retry succeeds once; the orphaned sidecars remain in storage', async () => {
    const c = stack.container;
    const bytes = randomBytes(4096);
    const manifest = manifestFor('crashy', bytes);
    await registerDatasets(stack, manifest);
    const up = await stack.api('POST', '/v1/registry/uploads', { modelName: 'crashy', size: bytes.length });
    expect((await fetch(up.body.url, { method: 'PUT', body: bytes })).status).toBe(200);
    const eventsBefore = Number((await c.database.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq);

    const crashing = new RegistryService({ ...c, database: killedBeforeCommit(c.database) }, REGISTRY_DEFAULTS);
    await expect(
      crashing.register({ uploadId: up.body.uploadId, manifest }, { id: 'dev-admin', role: 'admin', scope: 'global' }),
    ).rejects.toThrow('process killed before commit');

    expect(await c.database.db.selectFrom('artifacts').selectAll().where('model_name', '=', 'crashy').execute()).toEqual([]);
    expect(Number((await c.database.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq)).toBe(eventsBefore);
    expect((await stack.api('GET', '/v1/audit/verify')).body.ok).toBe(true);
    const sidecars: string[] = [];
    for await (const o of c.store.list(`artifacts/crashy/${up.body.uploadId}/`)) sidecars.push(o.key.split('/').pop()!);
    expect(sidecars.filter((k) => k !== 'artifact')).toHaveLength(2);

    const retry = await stack.api('POST', '/v1/registry/register', { uploadId: up.body.uploadId, manifest });
    expect(retry.status).toBe(201);
    expect(retry.body.version).toBe(1);
    const again = await stack.api('POST', '/v1/registry/register', { uploadId: up.body.uploadId, manifest });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ artifactId: retry.body.artifactId, replayed: true });
    const registered = (await stack.api('GET', '/v1/audit?type=artifact.registered')).body.items.filter(
      (e: { payload: { modelName: string } }) => e.payload.modelName === 'crashy',
    );
    expect(registered).toHaveLength(1);
    expect((await stack.api('GET', `/v1/registry/${retry.body.artifactId}/validate`)).body.ok).toBe(true);
  });
});
