import { EVENT_CATALOGUE } from '../../lib/modules/catalogue.js';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { AuditLog } from '../../lib/platform/audit/log.js';
import { AuditTrail } from '../../lib/platform/audit/trail.js';
import { DatasetService } from '../../lib/modules/datasets/service.js';
import { auditSigning, KeyService } from '../../lib/modules/keys/service.js';
import { diffSnapshots, registrySnapshot, storageParity } from '../../lib/recovery/parity.js';
import { rebuildIndex, RecoveryError, type RebuildReport } from '../../lib/recovery/rebuild.js';
import type { Database } from '../../lib/platform/ports/database.js';
import { startStack, type Stack } from '../support/local-stack.js';
import { emptyTarget, openTarget, populate, recoveryDeps, registerAllDatasets } from './support.js';

let stack: Stack;
let target: Database;
let report: RebuildReport;
let teams: Record<string, string | null>;

beforeAll(async () => {
  stack = await startStack();
  await registerAllDatasets(stack);
  // 30 registrations; the manifest key rotates at 10, rotates again revoking v2 at 20 (so
  // everything v2 signed stops verifying), and the audit key rotates at 15.
  await populate(stack, 30, { 10: { purpose: 'manifest' }, 15: { purpose: 'audit' }, 20: { purpose: 'manifest', revoke: true } });
  // team labels: set, changed and cleared by an admin; the rebuild keeps the last of each
  const models = (await stack.api('GET', '/v1/registry/models?limit=3')).body.items.map((m: { name: string }) => m.name);
  for (const [model, team] of [
    [models[0], 'fraud'],
    [models[0], 'risk'],
    [models[1], 'growth'],
    [models[1], null],
  ])
    expect((await stack.api('PUT', `/v1/registry/models/${model}/team`, { team })).status).toBe(200);
  teams = { [models[0]]: 'risk', [models[1]]: null };
  await stack.container.auditTrail.archive();
  target = await openTarget();
  report = await rebuildIndex(recoveryDeps(stack, target), { verifyBytes: true });
}, 180_000);
afterAll(async () => {
  await target?.close();
  await stack?.stop();
});

describe('rebuilding the registry from storage', () => {
  it('reproduces a registry of 30 artifacts, datasets, a key rotation and a revocation: parity reports no difference', async () => {
    expect(report.problems).toEqual([]);
    expect(report.artifacts).toEqual({ fromArchive: 30, fromStorage: 0 });
    expect(report.datasets).toBe(3);
    expect(report.keys).toBe(5); // audit v1, v2; manifest v1, v2 (revoked), v3
    expect(report.auditEvents).toBe(report.archivedThrough);
    expect(report.trust.pinned).toBe(false);
    expect(report.warnings.filter((w) => w.includes('manifest-signer-v2 was revoked'))).toHaveLength(10);
    expect(report.warnings.some((w) => w.includes('api token(s)'))).toBe(true);
    expect(report.notRestored.join(' ')).toContain('api tokens');

    const diffs = diffSnapshots(await registrySnapshot(stack.container.database), await registrySnapshot(target));
    expect(diffs).toEqual([]);
    const rebuilt = await target.db.selectFrom('models').select(['name', 'team']).where('name', 'in', Object.keys(teams)).execute();
    expect(Object.fromEntries(rebuilt.map((m) => [m.name, m.team]))).toEqual(teams);
  });

  it('rebuilt a chain holding key creations, rotations and a revocation, datasets and registrations', async () => {
    const types = new Set((await stack.container.database.db.selectFrom('audit_events').select('type').execute()).map((e) => e.type));
    const read = [
      'key.created',
      'key.rotated',
      'key.revoked',
      'dataset.registered',
      'manifest.signed',
      'artifact.registered',
      'model.team.set',
    ];
    expect(read.filter((t) => !types.has(t))).toEqual([]);
  });

  it('continues the audit chain where the archive ends, signed by the restored audit key', async () => {
    const c = stack.container;
    const audit = new AuditLog(
      auditSigning(() => keys),
      c.clock,
      EVENT_CATALOGUE,
    );
    const keys: KeyService = new KeyService(target, c.keyProvider, c.clock, audit);
    await new DatasetService(target, c.clock, audit).register(
      { id: 'after-rebuild', version: '1', checksum: `sha256:${'e'.repeat(64)}`, uri: 'file:///x' },
      { id: 'ops', role: 'admin', scope: 'global' },
    );
    const trail = new AuditTrail(target, new FsObjectStore({ root: join(stack.dataDir, 'audit-archive') }), keys, c.clock, 1);
    const verified = await trail.verify();
    expect(verified).toMatchObject({ ok: true, parity: 'ok', headSeq: report.archivedThrough + 1 });
  });

  it('pins trust to a given key ring and refuses an archive whose keys differ from it', async () => {
    const ring = await stack.container.keys.list();
    await emptyTarget(target);
    expect((await rebuildIndex(recoveryDeps(stack, target), { trustedKeys: ring })).trust).toMatchObject({
      pinned: true,
      rootKid: 'audit-signer-v1',
      mismatched: [],
    });

    await emptyTarget(target);
    const forged = ring.map((k) =>
      k.kid === 'audit-signer-v1' ? { ...k, publicKey: ring.find((x) => x.kid === 'manifest-signer-v1')!.publicKey } : k,
    );
    await expect(rebuildIndex(recoveryDeps(stack, target), { trustedKeys: forged })).rejects.toMatchObject({ code: 'UNTRUSTED_KEY' });
    expect(Number((await target.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq)).toBe(0);
  });

  it('refuses a non-empty database: the live one, a rebuilt one, and one that was only bootstrapped', async () => {
    await expect(rebuildIndex(recoveryDeps(stack, stack.container.database))).rejects.toThrow(RecoveryError);
    await emptyTarget(target);
    await rebuildIndex(recoveryDeps(stack, target));
    await expect(rebuildIndex(recoveryDeps(stack, target))).rejects.toMatchObject({
      code: 'TARGET_NOT_EMPTY',
      message: expect.stringContaining('artifacts'),
    });

    await emptyTarget(target);
    const c = stack.container;
    const audit = new AuditLog(
      auditSigning(() => keys),
      c.clock,
      EVENT_CATALOGUE,
    );
    const keys: KeyService = new KeyService(target, c.keyProvider, c.clock, audit);
    await keys.ensureActive('audit', `audit-bootstrap-${randomUUID().slice(0, 8)}`);
    await expect(rebuildIndex(recoveryDeps(stack, target))).rejects.toMatchObject({
      code: 'TARGET_NOT_EMPTY',
      message: expect.stringContaining('signing_keys'),
    });
  });

  it('parity lists a differing artifact row between two databases, and the row whose object version is gone', async () => {
    await emptyTarget(target);
    await rebuildIndex(recoveryDeps(stack, target));
    const [victim] = await target.db.selectFrom('artifacts').select(['artifact_id', 'size']).orderBy('artifact_id').limit(1).execute();
    await target.db
      .updateTable('artifacts')
      .set({ size: Number(victim!.size) + 1, storage_version_id: '000000000000-000000000000' })
      .where('artifact_id', '=', victim!.artifact_id)
      .execute();

    const diffs = diffSnapshots(await registrySnapshot(stack.container.database), await registrySnapshot(target));
    expect(diffs.map((d) => [d.kind, d.id, d.field])).toEqual([
      ['artifact', victim!.artifact_id, 'size'],
      ['artifact', victim!.artifact_id, 'storage'],
    ]);
    expect(diffs[0]).toMatchObject({ left: Number(victim!.size), right: Number(victim!.size) + 1 });
    const storage = await storageParity(target, stack.container.store);
    expect(storage.issues).toEqual([
      expect.objectContaining({ kind: 'missing-object', artifactId: victim!.artifact_id, versionId: '000000000000-000000000000' }),
    ]);
  });

  it('parity lists an orphaned sidecar and an upload that was never registered', async () => {
    const store = stack.container.store;
    const sidecar = `artifacts/churn/${randomUUID()}/manifest-${randomUUID()}.json`;
    const upload = `artifacts/ranker/${randomUUID()}/artifact`;
    await store.put(sidecar, '{}\n');
    await store.put(upload, 'bytes');
    const storage = await storageParity(stack.container.database, store);
    expect(storage.artifacts).toBe(30);
    expect(storage.issues.map((i) => [i.kind, i.key])).toEqual(
      expect.arrayContaining([
        ['orphan-sidecar', sidecar],
        ['unregistered-upload', upload],
      ]),
    );
    expect(storage.issues).toHaveLength(2);
    expect(storage.pendingUploads).toEqual([]);
  });

  it('parity tells a pending upload (marked in the store, or an open upload row) from unregistered bytes whose record is lost', async () => {
    const store = stack.container.store;
    const marked = `artifacts/ranker/${randomUUID()}/artifact`;
    await store.put(marked, 'pending bytes', { pendingUpload: true });
    const storage = await storageParity(stack.container.database, store);
    expect(storage.pendingUploads).toEqual([expect.objectContaining({ key: marked, evidence: ['store-mark'] })]);
    expect(storage.issues.map((i) => i.key)).not.toContain(marked);
    expect(storage.issues.filter((i) => i.kind === 'unregistered-upload')).toHaveLength(1); // the unmarked one of the previous test: a lost record
    await store.delete(marked);
  });
});
