import { randomBytes } from 'node:crypto';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { REGISTRY_DEFAULTS } from '../../lib/platform/composition/services.js';
import { canonicalJson } from '../../lib/kernel/canonical.js';
import type { DB } from '../../lib/platform/sql/schema.js';
import type { Database } from '../../lib/platform/ports/database.js';
import { diffSnapshots, registrySnapshot, storageParity } from '../../lib/recovery/parity.js';
import { rebuildIndex, type RebuildReport } from '../../lib/recovery/rebuild.js';
import { RegistryService } from '../../lib/modules/registry/service.js';
import { manifestFor, startStack, type Stack } from '../support/local-stack.js';
import { DATASETS, openTarget, populate, recoveryDeps, registerAllDatasets, registerOne } from './support.js';
import { rewriteFile, storedVersionFile } from '../support/tamper.js';

/** The registration's transaction runs, then the process "dies" before the commit. */
function killedBeforeCommit(real: Database): Database {
  const db = new Proxy(real.db, {
    get(t, prop) {
      if (prop === 'transaction') {
        return () => ({
          execute: (cb: (tx: unknown) => Promise<unknown>) =>
            t.transaction().execute(async (tx) => (await cb(tx), Promise.reject(new Error('killed before commit')))),
        });
      }
      const v = Reflect.get(t, prop, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  }) as Kysely<DB>;
  return { kind: real.kind, db, close: () => real.close() };
}

/** Rewrites one stored object version on disk, behind the store's back (retention protects it from the API). */
async function tamper(stack: Stack, key: string, versionId: string, edit: (text: string) => string): Promise<void> {
  await rewriteFile(storedVersionFile(stack.dataDir, { key, versionId }), (bytes) => edit(bytes.toString('utf8')));
}

const row = (stack: Stack, model: string, version: number) =>
  stack.container.database.db
    .selectFrom('artifacts')
    .selectAll()
    .where('model_name', '=', model)
    .where('version', '=', version)
    .executeTakeFirstOrThrow();

let stack: Stack;
let target: Database;
let report: RebuildReport;
let crashedSidecars: string[];
const late: { artifactId: string; version: number }[] = [];

beforeAll(async () => {
  stack = await startStack();
  await registerAllDatasets(stack);
  await populate(stack, 6);
  // A registration that crashed before its commit, then its retry (which committed).
  const bytes = randomBytes(3000);
  const manifest = manifestFor('crashy', bytes, { datasetRefs: [DATASETS[1]] });
  const up = (await stack.api('POST', '/v1/registry/uploads', { modelName: 'crashy', size: bytes.length })).body;
  await fetch(up.url, { method: 'PUT', body: bytes });
  const c = stack.container;
  const crashing = new RegistryService({ ...c, database: killedBeforeCommit(c.database) }, REGISTRY_DEFAULTS);
  await expect(crashing.register({ uploadId: up.uploadId, manifest }, { id: 'dev-admin', role: 'admin', scope: 'global' })).rejects.toThrow(
    'killed before commit',
  );
  crashedSidecars = [];
  for await (const o of c.store.list(`artifacts/crashy/${up.uploadId}/`)) if (o.key.endsWith('.json')) crashedSidecars.push(o.key);
  expect((await stack.api('POST', '/v1/registry/register', { uploadId: up.uploadId, manifest })).status).toBe(201);

  // The last archive run; a copy of the archive as it was then stands in for a lagging archive.
  await c.auditTrail.archive();
  await cp(join(stack.dataDir, 'audit-archive'), join(stack.dataDir, 'archive-then'), { recursive: true });

  // After the archive: a new dataset, three registrations, one more that gets tampered.
  await stack.api('POST', '/v1/datasets', { id: 'late', version: '1', checksum: `sha256:${'f'.repeat(64)}`, uri: 's3://data/late/1' });
  for (const i of [6, 7]) late.push(await registerOne(stack, i === 6 ? 'churn' : 'fraud-detector', i));
  const b = randomBytes(1500);
  const r = await stack.api('POST', '/v1/registry/uploads', { modelName: 'ranker', size: b.length });
  await fetch(r.body.url, { method: 'PUT', body: b });
  const lateRefs = [{ id: 'late', version: '1', checksum: `sha256:${'f'.repeat(64)}`, uri: 's3://data/late/1' }];
  late.push(
    (
      await stack.api('POST', '/v1/registry/register', {
        uploadId: r.body.uploadId,
        manifest: manifestFor('ranker', b, { datasetRefs: lateRefs }),
      })
    ).body,
  );
  await registerOne(stack, 'tampered', 99);

  const forged = await row(stack, 'tampered', 1);
  await tamper(
    stack,
    forged.manifest_key,
    forged.manifest_version_id,
    (t) => `${canonicalJson({ ...JSON.parse(t), metrics: { auc: 0.99 } })}\n`,
  );
  const archivedVictim = await row(stack, 'churn', 1);
  await tamper(stack, archivedVictim.signature_key, archivedVictim.signature_version_id, (t) => {
    const s = JSON.parse(t);
    return `${canonicalJson({ ...s, signature: Buffer.from(randomBytes(64)).toString('base64') })}\n`;
  });

  target = await openTarget();
  report = await rebuildIndex(recoveryDeps(stack, target, join(stack.dataDir, 'archive-then')), { verifyBytes: true });
}, 180_000);
afterAll(async () => {
  await target?.close();
  await stack?.stop();
});

describe('rebuilding when storage holds more than the audit archive', () => {
  it('restores registrations made after the last archive run from their sidecars, with their versions, and reports them', async () => {
    expect(report.artifacts).toEqual({ fromArchive: 6, fromStorage: 3 });
    expect(report.restoredFromStorage.map((a) => [a.artifactId, a.version, a.note, a.signedBeforeArchiveEnd])).toEqual(
      late.map((a) => [a.artifactId, a.version, 'not in the audit archive', false]),
    );
    const restored = await target.db
      .selectFrom('artifacts')
      .selectAll()
      .where(
        'artifact_id',
        'in',
        late.map((a) => a.artifactId),
      )
      .execute();
    expect(restored.map((r) => r.created_by)).toEqual(['aegis-recovery', 'aegis-recovery', 'aegis-recovery']);
    expect(
      await target.db
        .selectFrom('audit_events')
        .select('seq')
        .where(
          'subject',
          'in',
          late.map((a) => `artifact:${a.artifactId}`),
        )
        .execute(),
    ).toEqual([]);
    // The dataset registered after the archive is rebuilt from the signed datasetRef and reported.
    expect(
      await target.db.selectFrom('datasets').select(['checksum', 'uri', 'created_by']).where('dataset_id', '=', 'late').executeTakeFirst(),
    ).toEqual({
      checksum: `sha256:${'f'.repeat(64)}`,
      uri: 's3://data/late/1',
      created_by: 'aegis-recovery',
    });
    expect(report.warnings.some((w) => w.startsWith('dataset late@1 is not in the archive'))).toBe(true);

    const artifactDiffs = diffSnapshots(await registrySnapshot(stack.container.database), await registrySnapshot(target)).filter(
      (d) => d.kind === 'artifact',
    );
    const tampered = await row(stack, 'tampered', 1);
    const churn1 = await row(stack, 'churn', 1);
    expect(artifactDiffs.map((d) => [d.id, d.field ?? 'missing'])).toEqual(
      expect.arrayContaining([
        ...late.map((a) => [a.artifactId, 'createdBy']),
        [tampered.artifact_id, 'missing'],
        [churn1.artifact_id, 'missing'],
      ]),
    );
    expect(artifactDiffs).toHaveLength(5);
  });

  it('reports a tampered manifest sidecar and a tampered archived signature and restores neither', async () => {
    const tampered = await row(stack, 'tampered', 1);
    const churn1 = await row(stack, 'churn', 1);
    expect(report.problems.map((p) => [p.kind, p.id, p.problem])).toEqual(
      expect.arrayContaining([
        ['artifact', churn1.artifact_id, 'signature-invalid'],
        ['sidecar', tampered.manifest_key, 'signature-invalid'],
      ]),
    );
    expect(report.problems).toHaveLength(2);
    expect(
      await target.db
        .selectFrom('artifacts')
        .select('artifact_id')
        .where('artifact_id', 'in', [tampered.artifact_id, churn1.artifact_id])
        .execute(),
    ).toEqual([]);
    // The skipped registration keeps its version number taken: churn's later ones keep theirs.
    const churn = await target.db.selectFrom('artifacts').select('version').where('model_name', '=', 'churn').orderBy('version').execute();
    expect(churn.map((r) => r.version)).toEqual([2, 3]);
  });

  it("keeps the committed retry and reports a crashed registration's sidecars as orphans", async () => {
    expect(report.orphans).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'duplicate-sidecars', keys: expect.arrayContaining(crashedSidecars) })]),
    );
    const parity = await storageParity(target, stack.container.store);
    const orphaned = parity.issues.filter((i) => i.kind === 'orphan-sidecar').map((i) => i.key);
    expect(orphaned).toEqual(expect.arrayContaining(crashedSidecars));
    expect(parity.issues.filter((i) => i.kind === 'missing-object')).toEqual([]);
  });
});
