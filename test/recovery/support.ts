import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { sql } from 'kysely';
import { AUDIT_RETENTION_DAYS } from '../../lib/platform/composition/services.js';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { PgliteDatabase } from '../../lib/platform/adapters/sql/pglite.js';
import { migrateToLatest } from '../../lib/platform/sql/migrations.js';
import type { Database } from '../../lib/platform/ports/database.js';
import { AuditTrail } from '../../lib/platform/audit/trail.js';
import type { RecoveryDeps } from '../../lib/recovery/rebuild.js';
import { manifestFor, uploadAndRegister, type Stack } from '../support/local-stack.js';

export const DATASETS = [
  { id: 'transactions', version: '2026-11', checksum: `sha256:${'b'.repeat(64)}` },
  { id: 'events', version: 'v1', checksum: `sha256:${'c'.repeat(64)}` },
  { id: 'labels', version: 'v2', checksum: `sha256:${'d'.repeat(64)}` },
];
const MODELS = ['churn', 'fraud-detector', 'ranker'];

export async function registerAllDatasets(stack: Stack): Promise<void> {
  for (const d of DATASETS) {
    const res = await stack.api('POST', '/v1/datasets', { ...d, uri: `s3://data/${d.id}/${d.version}`, schema: { columns: ['a', 'b'] } });
    if (res.status !== 201 && res.status !== 200) throw new Error(`dataset ${d.id}: ${res.status}`);
  }
}

/** One registration through the HTTP API; returns the reply body. */
export async function registerOne(
  stack: Stack,
  model: string,
  i: number,
): Promise<{ artifactId: string; version: number; manifestSignatureId: string }> {
  const bytes = randomBytes(2048 + i);
  // Every third manifest names one dataset twice (train and eval splits): linked once.
  const refs = i % 3 === 0 ? [DATASETS[0]!, DATASETS[0]!] : [DATASETS[i % DATASETS.length]!, DATASETS[(i + 1) % DATASETS.length]!];
  const res = await uploadAndRegister(stack, model, bytes, {
    manifest: manifestFor(model, bytes, { datasetRefs: refs, seed: i }),
    datasets: false,
  });
  if (res.status !== 201) throw new Error(`register ${model} #${i}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** `n` registrations over three models with the given key events at the given indexes. */
export async function populate(
  stack: Stack,
  n: number,
  events: Record<number, { purpose: 'manifest' | 'audit'; revoke?: boolean }> = {},
  from = 0,
): Promise<void> {
  for (let i = from; i < from + n; i++) {
    const ev = events[i];
    if (ev) {
      const r = await stack.api('POST', '/v1/keys/rotate', ev);
      if (r.status !== 200 && r.status !== 201) throw new Error(`rotate: ${r.status} ${JSON.stringify(r.body)}`);
    }
    await registerOne(stack, MODELS[i % MODELS.length]!, i);
  }
}

/** A fresh in-memory database, migrated only (never bootstrapped). Opening PGlite costs seconds: tests reuse one. */
export async function openTarget(): Promise<Database> {
  const target = await PgliteDatabase.open();
  await migrateToLatest(target.db);
  return target;
}

/** Back to migrated-and-empty, as if freshly migrated. */
export async function emptyTarget(target: Database): Promise<void> {
  await sql`truncate models, artifacts, manifest_signatures, artifact_datasets, datasets, signing_keys, audit_events, api_tokens, idempotency_keys, uploads, promotions, promotion_approvals, promotion_steps, routes cascade`.execute(
    target.db,
  );
  await target.db
    .updateTable('audit_head')
    .set({ seq: 0, hash: '0'.repeat(64) })
    .where('id', '=', 1)
    .execute();
}

/** Rebuild inputs: `target` and the stack's storage; the archive read from `archiveRoot` (a lagging copy in some tests). */
export function recoveryDeps(stack: Stack, target: Database, archiveRoot = join(stack.dataDir, 'audit-archive')): RecoveryDeps {
  const archiveStore = new FsObjectStore({ root: archiveRoot });
  const c = stack.container;
  const auditTrail = new AuditTrail(target, archiveStore, c.keys, c.clock, AUDIT_RETENTION_DAYS);
  return { database: target, store: c.store, keyProvider: c.keyProvider, auditTrail, archiveStore };
}
