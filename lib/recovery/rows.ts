import { sql, type Insertable, type Transaction } from 'kysely';
import { canonicalJson } from '../kernel/canonical.js';
import type { AuditEvent } from '../kernel/audit-chain.js';
import { manifestSha256 } from '../kernel/manifest.js';
import { toDate, type DB } from '../platform/sql/schema.js';
import type { Database } from '../platform/ports/database.js';
import { eventToRow } from '../platform/audit/log.js';
import { RecoveryError } from './types.js';
import type { VerifiedArtifact } from './storage.js';

/** Rows of one restore phase, written in foreign-key order in one transaction. */
export interface RowPlan {
  keys: Insertable<DB['signing_keys']>[];
  datasets: Insertable<DB['datasets']>[];
  /** models to create, or (existing) to raise `latest_version` for */
  models: Insertable<DB['models']>[];
  artifacts: Insertable<DB['artifacts']>[];
  signatures: Insertable<DB['manifest_signatures']>[];
  links: Insertable<DB['artifact_datasets']>[];
  events: AuditEvent[];
  /** replayed from promotion events (recovery-promotions.ts) */
  promotions: Insertable<DB['promotions']>[];
  approvals: Insertable<DB['promotion_approvals']>[];
  steps: Insertable<DB['promotion_steps']>[];
  routes: Insertable<DB['routes']>[];
  verdicts: Insertable<DB['canary_verdicts']>[];
}

export const emptyPlan = (): RowPlan => ({
  keys: [],
  datasets: [],
  models: [],
  artifacts: [],
  signatures: [],
  links: [],
  events: [],
  promotions: [],
  approvals: [],
  steps: [],
  routes: [],
  verdicts: [],
});

/** The rows RegistryService.register writes for one registration, from verified sidecars. */
export function artifactRows(plan: RowPlan, a: VerifiedArtifact, version: number, createdBy: string, createdAt: string): void {
  const m = a.manifest;
  plan.artifacts.push({
    artifact_id: m.artifactId,
    model_name: m.modelName,
    version,
    sha256: a.sha256,
    size: a.size,
    storage_key: a.storage.key,
    storage_version_id: a.storage.versionId,
    manifest_key: a.storage.manifestKey,
    manifest_version_id: a.storage.manifestVersionId,
    signature_key: a.storage.signatureKey,
    signature_version_id: a.storage.signatureVersionId,
    manifest: canonicalJson(m),
    manifest_sha256: manifestSha256(m),
    manifest_signature_id: a.signature.manifestSignatureId,
    signer_id: a.signature.signerId,
    created_by: createdBy,
    created_at: toDate(createdAt),
  });
  plan.signatures.push({
    manifest_signature_id: a.signature.manifestSignatureId,
    artifact_id: m.artifactId,
    signer_id: a.signature.signerId,
    alg: a.signature.alg,
    signature: a.signature.signature,
    ts: toDate(a.signature.ts),
  });
  // A manifest may name one dataset version twice (train and eval splits); linked once, as on registration.
  const seen = new Set<string>();
  for (const r of m.datasetRefs) {
    if (seen.has(`${r.id}@${r.version}`)) continue;
    seen.add(`${r.id}@${r.version}`);
    plan.links.push({ artifact_id: m.artifactId, dataset_id: r.id, version: r.version });
  }
}

// Multi-row inserts cut round trips (each is an HTTP call on the Data API) while staying far
// below PostgreSQL's 65535 bind parameters (artifacts and promotions have 17 columns).
const CHUNK = 200;
async function insertAll<T extends keyof DB & string>(tx: Transaction<DB>, table: T, rows: Insertable<DB[T]>[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    // Kysely's typing cannot follow a table name chosen at run time; the rows are typed by the caller.
    await tx
      .insertInto(table)
      .values(rows.slice(i, i + CHUNK) as never)
      .execute();
  }
}

/**
 * Writes one phase's rows in one transaction: either the phase is restored completely or
 * nothing of it is. Models already present (from an earlier phase) get their
 * `latest_version` raised instead of being inserted again.
 */
export async function writePlan(database: Database, plan: RowPlan): Promise<void> {
  await database.db.transaction().execute(async (tx) => {
    await insertAll(tx, 'signing_keys', plan.keys);
    await insertAll(tx, 'datasets', plan.datasets);
    for (const model of plan.models) {
      await tx
        .insertInto('models')
        .values(model)
        .onConflict((oc) =>
          oc.column('name').doUpdateSet({ latest_version: sql`greatest(models.latest_version, excluded.latest_version)` }),
        )
        .execute();
    }
    await insertAll(tx, 'artifacts', plan.artifacts);
    await insertAll(tx, 'manifest_signatures', plan.signatures);
    await insertAll(tx, 'artifact_datasets', plan.links);
    await insertAll(tx, 'promotions', plan.promotions);
    await insertAll(tx, 'promotion_approvals', plan.approvals);
    await insertAll(tx, 'promotion_steps', plan.steps);
    await insertAll(tx, 'routes', plan.routes);
    await insertAll(tx, 'canary_verdicts', plan.verdicts);
    await insertAll(tx, 'audit_events', plan.events.map(eventToRow));
    const last = plan.events[plan.events.length - 1];
    // The head is where the next append links to, so the chain continues where the archive ends.
    if (last) await tx.updateTable('audit_head').set({ seq: last.seq, hash: last.hash }).where('id', '=', 1).execute();
  });
}

const REGISTRY_TABLES = [
  'models',
  'artifacts',
  'manifest_signatures',
  'artifact_datasets',
  'datasets',
  'signing_keys',
  'audit_events',
  'api_tokens',
  'idempotency_keys',
  'uploads',
  'promotions',
  'promotion_approvals',
  'promotion_steps',
  'routes',
  'canary_verdicts',
] as const;

/**
 * The target must be migrated and hold nothing: every registry table empty and the chain
 * head at genesis. A bootstrapped database already has keys and `key.created` events (and a
 * started server a token), which would fork the chain being restored, so it is refused too.
 */
export async function assertEmptyTarget(database: Database): Promise<void> {
  const found: string[] = [];
  try {
    for (const t of REGISTRY_TABLES) {
      const r = await sql<{ n: string | number }>`select count(*) as n from ${sql.table(t)}`.execute(database.db);
      const n = Number(r.rows[0]?.n ?? 0);
      if (n > 0) found.push(`${n} ${t}`);
    }
    const head = await database.db.selectFrom('audit_head').select(['seq']).where('id', '=', 1).executeTakeFirst();
    if (!head) throw new Error('audit_head has no row');
    if (Number(head.seq) !== 0) found.push(`audit head at seq ${head.seq}`);
  } catch (e) {
    throw new RecoveryError(
      'TARGET_NOT_MIGRATED',
      `the target database is not migrated to the current schema (${(e as Error).message}); run the migrations on an empty database first`,
    );
  }
  if (found.length) {
    throw new RecoveryError(
      'TARGET_NOT_EMPTY',
      `the target database is not empty (${found.join(', ')}): rebuild-index only writes into a database that was migrated and never bootstrapped or started; create a fresh one`,
    );
  }
}
