/** The rows of one restore phase, and writing them: each module through its restore, the chain itself. */
import { sql, type Transaction } from 'kysely';
import type { AuditEvent } from '../kernel/audit-chain.js';
import type { DB } from '../platform/sql/schema.js';
import type { Database } from '../platform/ports/database.js';
import { eventToRow } from '../platform/audit/log.js';
import type { DatasetRows } from '../modules/datasets/restore.js';
import type { DriftRows } from '../modules/drift/restore.js';
import type { EventRows } from '../modules/events/restore.js';
import type { KeyRows } from '../modules/keys/restore.js';
import type { PromotionTableRows } from '../modules/promotion/restore.js';
import type { RegistryRows } from '../modules/registry/restore.js';
import { inChunks } from '../modules/restore.js';
import type { QuarantineRows } from '../modules/quarantine/restore.js';
import type { RolloutRows } from '../modules/rollout/restore.js';
import type { ServingRows } from '../modules/serving/restore.js';
import { MODULE_RESTORES } from './modules.js';
import { RecoveryError } from './types.js';

/** Rows of one restore phase, by module, and the archived events; written in one transaction. */
export type RowPlan = KeyRows &
  DatasetRows &
  RegistryRows &
  PromotionTableRows &
  RolloutRows &
  QuarantineRows &
  ServingRows &
  DriftRows &
  EventRows & { events: AuditEvent[] };

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
  quarantineRequests: [],
  quarantineApprovals: [],
  servingDeployments: [],
  driftReports: [],
  driftSuggestions: [],
  eventSubscriptions: [],
});

/** The archived events, and the head where the next append links to, so the chain continues where the archive ends. */
async function writeChain(tx: Transaction<DB>, events: readonly AuditEvent[]): Promise<void> {
  await inChunks(events, (part) => tx.insertInto('audit_events').values(part.map(eventToRow)).execute());
  const last = events[events.length - 1];
  // the restored key ring is a new version: a process that cached the ring reads it again
  if (last)
    await tx.updateTable('audit_head').set({ seq: last.seq, hash: last.hash, key_ring_seq: last.seq }).where('id', '=', 1).execute();
}

/**
 * Writes one phase's rows in one transaction, module by module in dependency order, then
 * the chain: either the phase is restored completely or nothing of it is. Models already
 * present (from an earlier phase) get their `latest_version` raised instead of being
 * inserted again.
 */
export async function writePlan(database: Database, plan: RowPlan): Promise<void> {
  await database.db.transaction().execute(async (tx) => {
    for (const m of MODULE_RESTORES) await m.write(tx, plan);
    await writeChain(tx, plan.events);
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
  'registrations',
  'promotions',
  'promotion_approvals',
  'promotion_steps',
  'routes',
  'canary_verdicts',
  'quarantine_requests',
  'quarantine_approvals',
  'serving_deployments',
  'serving_events',
  'serving_labels',
  'serving_ingest_watermarks',
  'drift_runs',
  'drift_reports',
  'drift_suggestions',
  'event_subscriptions',
  'event_subscription_filters',
  'event_deliveries',
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
