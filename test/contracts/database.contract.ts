import { EVENT_CATALOGUE } from '../../lib/modules/catalogue.js';
import { randomBytes, createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { FileKeyProvider } from '../../lib/platform/adapters/signing/file.js';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { migrateToLatest } from '../../lib/platform/sql/migrations.js';
import { isUniqueViolation } from '../../lib/platform/sql/errors.js';
import { toIso } from '../../lib/platform/sql/schema.js';
import type { Database } from '../../lib/platform/ports/database.js';
import { systemClock } from '../../lib/platform/ports/clock.js';
import { AuditLog } from '../../lib/platform/audit/log.js';
import { DatasetService } from '../../lib/modules/datasets/service.js';
import { auditSigning, KeyService } from '../../lib/modules/keys/service.js';
import { RegistryService } from '../../lib/modules/registry/service.js';
import { describeUnless } from '../support/unavailable.js';

/**
 * The Database port's contract: every adapter (PGlite, a PostgreSQL server, Aurora through the
 * RDS Data API) runs the same migrations and gives the registry the same transactional behaviour.
 * With `skip` (the reason its backend is absent, decided before the tests are defined) the
 * suite is registered as skipped, so the report shows it was not run.
 */
export function databaseContract(
  name: string,
  open: () => Promise<{ database: Database; cleanup(): Promise<void> }>,
  options: { skip?: string } = {},
) {
  describeUnless(options.skip, `Database contract: ${name}`, () => {
    let database: Database | undefined;
    let cleanup: () => Promise<void> = async () => undefined;
    let dir: string;

    beforeAll(async () => {
      const opened = await open();
      database = opened.database;
      cleanup = opened.cleanup;
      dir = await mkdtemp(join(tmpdir(), 'aegis-dbc-'));
    });
    afterAll(async () => {
      await database?.close();
      await cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const db = () => {
      if (!database) throw new Error('database unavailable (see the skip reason above)');
      return database;
    };

    it('applies the migrations once and is a no-op the second time', async () => {
      const first = await migrateToLatest(db().db);
      expect(first).toContain('0001_registry');
      expect(await migrateToLatest(db().db)).toEqual([]);
    });

    it('claims an upload once (0006: registered_at / expired_at with UPDATE … RETURNING), as registration and expiry do', async () => {
      const id = `up-${randomBytes(4).toString('hex')}`;
      await db()
        .db.insertInto('uploads')
        .values({
          upload_id: id,
          model_name: 'm',
          storage_key: `artifacts/m/${id}/artifact`,
          created_by: 't',
          created_at: new Date(),
          expires_at: new Date(),
          max_size: 1,
        })
        .execute();
      const claim = () =>
        db()
          .db.updateTable('uploads')
          .set({ registered_at: new Date() })
          .where('upload_id', '=', id)
          .where('registered_at', 'is', null)
          .where('expired_at', 'is', null)
          .returning('upload_id')
          .executeTakeFirst();
      expect(await claim()).toEqual({ upload_id: id });
      expect(await claim()).toBeUndefined();
      const pending = await db()
        .db.selectFrom('uploads')
        .select('upload_id')
        .where('upload_id', '=', id)
        .where('registered_at', 'is', null)
        .execute();
      expect(pending).toEqual([]);
    });

    it('reports a unique violation in a form isUniqueViolation recognises', async () => {
      const row = { name: `uniq-${randomBytes(3).toString('hex')}`, latest_version: 0, created_by: 't', created_at: new Date() };
      await db().db.insertInto('models').values(row).execute();
      const err = await db()
        .db.insertInto('models')
        .values(row)
        .execute()
        .catch((e: unknown) => e);
      expect(isUniqueViolation(err)).toBe(true);
    });

    it('reports a unique violation inside a transaction as one, and keeps none of its writes', async () => {
      const taken = `uniq-tx-${randomBytes(3).toString('hex')}`;
      const fresh = `uniq-tx-${randomBytes(3).toString('hex')}`;
      await db().db.insertInto('models').values({ name: taken, latest_version: 0, created_by: 't', created_at: new Date() }).execute();
      const err = await db()
        .db.transaction()
        .execute(async (tx) => {
          await tx.insertInto('models').values({ name: fresh, latest_version: 0, created_by: 't', created_at: new Date() }).execute();
          await tx.insertInto('models').values({ name: taken, latest_version: 0, created_by: 't', created_at: new Date() }).execute();
        })
        .catch((e: unknown) => e);
      expect(isUniqueViolation(err)).toBe(true);
      expect(await db().db.selectFrom('models').select('name').where('name', '=', fresh).executeTakeFirst()).toBeUndefined();
    });

    it('rolls a failed transaction back completely', async () => {
      const name = `rollback-${randomBytes(3).toString('hex')}`;
      await expect(
        db()
          .db.transaction()
          .execute(async (tx) => {
            await tx.insertInto('models').values({ name, latest_version: 0, created_by: 't', created_at: new Date() }).execute();
            await sql`select 1/0`.execute(tx);
          }),
      ).rejects.toThrow();
      expect(await db().db.selectFrom('models').select('name').where('name', '=', name).executeTakeFirst()).toBeUndefined();
    });

    it('round-trips timestamps and sizes beyond 32 bits', async () => {
      const at = new Date('2026-11-22T10:11:12.345Z');
      await db()
        .db.insertInto('uploads')
        .values({
          upload_id: crypto.randomUUID(),
          model_name: 'm',
          storage_key: `k/${randomBytes(4).toString('hex')}`,
          created_by: 't',
          created_at: at,
          expires_at: at,
          max_size: 6_000_000_000,
        })
        .execute();
      const r = await db().db.selectFrom('uploads').selectAll().where('created_at', '=', at).executeTakeFirstOrThrow();
      expect(toIso(r.created_at)).toBe(at.toISOString());
      expect(Number(r.max_size)).toBe(6_000_000_000);
    });

    it('gives concurrent registrations of one model distinct, gapless versions', async () => {
      const store = new FsObjectStore({ root: join(dir, 'objects') });
      const audit = new AuditLog(
        auditSigning(() => keys),
        systemClock,
        EVENT_CATALOGUE,
      );
      const keys: KeyService = new KeyService(db(), new FileKeyProvider({ dir: join(dir, 'keys') }), systemClock, audit);
      await keys.ensureActive('audit', 'audit-signer-v1');
      await keys.ensureActive('manifest', 'manifest-signer-v1');
      const registry = new RegistryService(
        { database: db(), store, keys, datasets: new DatasetService(db(), systemClock, audit), audit, clock: systemClock },
        {
          retentionDays: 1,
          uploadTtlSeconds: 60,
        },
      );
      const principal = { id: 'contract', role: 'publisher', scope: 'global' } as const;
      const results = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          const bytes = randomBytes(256 + i);
          const up = await db()
            .db.insertInto('uploads')
            .values({
              upload_id: crypto.randomUUID(),
              model_name: 'contract-model',
              storage_key: `artifacts/contract-model/u${i}/artifact`,
              created_by: principal.id,
              created_at: new Date(),
              expires_at: new Date(Date.now() + 60_000),
              max_size: bytes.length,
            })
            .returning('upload_id')
            .executeTakeFirstOrThrow();
          await store.put(`artifacts/contract-model/u${i}/artifact`, bytes);
          return registry.register(
            {
              uploadId: up.upload_id,
              manifest: {
                modelName: 'contract-model',
                codeRef: 'git:abc',
                containerDigest: `sha256:${'a'.repeat(64)}`,
                datasetRefs: [],
                hyperparams: {},
                seed: 1,
                trainingCmd: 'train',
                environment: {},
                artifactSha256: createHash('sha256').update(bytes).digest('hex'),
                artifactSize: bytes.length,
                createdAt: new Date().toISOString(),
              },
            },
            principal,
          );
        }),
      );
      expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      const page = await registry.listVersions('contract-model', { limit: 100 });
      expect(page.items).toHaveLength(8);
      expect(page.items[0]!.signature.signerId).toBe('manifest-signer-v1');

      // scoped grants: the team label, and the models list filtered in the query by prefix or team
      await registry.setTeam('contract-model', 'contract-team', principal);
      expect(await registry.modelRef({ artifactId: results[0]!.artifactId })).toEqual({ name: 'contract-model', team: 'contract-team' });
      const names = async (scope: { prefixes: string[]; teams: string[] }) =>
        (await registry.listModels({ limit: 100, scope })).items.map((m) => m.name);
      expect(await names({ prefixes: ['contract-'], teams: [] })).toEqual(['contract-model']);
      expect(await names({ prefixes: ['nothing-'], teams: ['contract-team'] })).toEqual(['contract-model']);
      expect(await names({ prefixes: ['contract_'], teams: ['other-team'] })).toEqual([]);
      expect(await names({ prefixes: [], teams: [] })).toEqual([]);
    });

    it('enrolls, rotates and revokes keys: timestamps written back from their ISO form keep their instant', async () => {
      const audit = new AuditLog(
        auditSigning(() => keys),
        systemClock,
        EVENT_CATALOGUE,
      );
      const keys: KeyService = new KeyService(db(), new FileKeyProvider({ dir: join(dir, 'keys') }), systemClock, audit);
      await keys.ensureActive('audit', 'audit-signer-v1');
      const notAfter = new Date(Date.now() + 86_400_000).toISOString();
      const publicKey = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
      const enrolled = await keys.enroll(
        { kid: 'approver-contract', purpose: 'approver', publicKey, owner: 'alice', notAfter },
        'contract',
      );
      expect(enrolled.notAfter).toBe(notAfter);
      const revoked = await keys.revoke('approver-contract', 'contract');
      expect(revoked.notAfter).toBe(notAfter);
      expect(revoked.revokedAt).toEqual(expect.any(String));
      // last in the suite: rotating the audit key would change the signer the tests above expect
      const { previous } = await keys.rotate('audit', {}, 'contract');
      expect(previous).toMatchObject({ kid: 'audit-signer-v1', notAfter: expect.any(String) });
    });
  });
}
