/**
 * Comparing two registries (a rebuilt one with the original, a restored dump with the live
 * one) and a registry with its artifact store.
 */
import { canonicalJson } from '../kernel/canonical.js';
import type { AuditEvent } from '../kernel/audit-chain.js';
import type { Database } from '../platform/ports/database.js';
import type { ObjectStore } from '../platform/ports/object-store.js';
import { rowToEvent } from '../platform/audit/log.js';
import { datasetsSnapshot, type DatasetSnapshot } from '../modules/datasets/parity.js';
import { driftSnapshot, type DriftReportSnapshot, type DriftSuggestionSnapshot } from '../modules/drift/parity.js';
import { eventSubscriptionsSnapshot, type EventSubscriptionSnapshot } from '../modules/events/parity.js';
import { quarantineSnapshot, type QuarantineSnapshot } from '../modules/quarantine/parity.js';
import { keysSnapshot, type KeySnapshot } from '../modules/keys/parity.js';
import { promotionsSnapshot, type ApprovalSnapshot, type PromotionSnapshot } from '../modules/promotion/parity.js';
import { registryObjects, registrySnapshot as registryTables, type RegistryTablesSnapshot } from '../modules/registry/parity.js';
import { servingSnapshot, type ServingDeploymentSnapshot } from '../modules/serving/parity.js';
import { rolloutSnapshot, type RouteSnapshot, type VerdictSnapshot } from '../modules/rollout/parity.js';

/**
 * Everything a rebuild must reproduce, in one canonical order: each module's tables as the
 * module's parity reads them, and the chain. Tokens, uploads, idempotency keys, the rollout
 * trace and leases, webhook secrets and event deliveries are left out.
 */
export interface RegistrySnapshot extends RegistryTablesSnapshot {
  datasets: DatasetSnapshot[];
  keys: KeySnapshot[];
  auditEvents: (AuditEvent & { id: string })[];
  auditHead: { seq: number; hash: string };
  promotions: PromotionSnapshot[];
  approvals: ApprovalSnapshot[];
  routes: RouteSnapshot[];
  /** judged canary windows (restored from the `window` of evaluate step events) */
  verdicts: VerdictSnapshot[];
  /** quarantine requests with their approvers, applied records and effects */
  quarantines: QuarantineSnapshot[];
  /** where each artifact first verified and served, per environment (from serving.verified) */
  servingDeployments: ServingDeploymentSnapshot[];
  /** the drift report index and retrain suggestions (states, attached reports, resolved by) */
  driftReports: DriftReportSnapshot[];
  driftSuggestions: DriftSuggestionSnapshot[];
  /** webhooks and the event bus subscription, deleted ones too (not their secrets nor deliveries) */
  eventSubscriptions: EventSubscriptionSnapshot[];
}

/** The chain as stored, and its head. */
async function chainSnapshot(database: Database): Promise<Pick<RegistrySnapshot, 'auditEvents' | 'auditHead'>> {
  const db = database.db;
  const auditEvents = (await db.selectFrom('audit_events').selectAll().orderBy('seq').execute()).map((r) => ({
    id: `seq ${r.seq}`,
    ...rowToEvent(r),
  }));
  const head = await db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
  return { auditEvents, auditHead: { seq: Number(head?.seq ?? 0), hash: head?.hash.trim() ?? '' } };
}

/**
 * A snapshot of the registry tables. Timestamps are ISO strings at millisecond precision
 * (what every writer records), `char(64)` columns trimmed, int8 as numbers, so snapshots of
 * PGlite, PostgreSQL and the Data API compare equal.
 *
 * @example
 * const diffs = diffSnapshots(await registrySnapshot(original), await registrySnapshot(rebuilt));
 */
export async function registrySnapshot(database: Database): Promise<RegistrySnapshot> {
  const x = database.db;
  const { artifacts, models, links } = await registryTables(x);
  return {
    artifacts,
    models,
    datasets: await datasetsSnapshot(x),
    links,
    keys: await keysSnapshot(x),
    ...(await chainSnapshot(database)),
    ...(await promotionsSnapshot(x)),
    ...(await rolloutSnapshot(x)),
    quarantines: await quarantineSnapshot(x),
    servingDeployments: await servingSnapshot(x),
    ...(await driftSnapshot(x)),
    eventSubscriptions: await eventSubscriptionsSnapshot(x),
  };
}

export type DiffKind =
  | 'artifact'
  | 'model'
  | 'dataset'
  | 'key'
  | 'audit-event'
  | 'link'
  | 'promotion'
  | 'approval'
  | 'route'
  | 'verdict'
  | 'quarantine'
  | 'serving-deployment'
  | 'drift-report'
  | 'drift-suggestion'
  | 'event-subscription';

export interface Difference {
  kind: DiffKind;
  id: string;
  /** the differing field; absent when the whole item is on one side only */
  field?: string;
  left: unknown;
  right: unknown;
}

function diffItems<T extends { id: string }>(kind: DiffKind, left: readonly T[], right: readonly T[], out: Difference[]): void {
  const r = new Map(right.map((x) => [x.id, x]));
  const l = new Map(left.map((x) => [x.id, x]));
  for (const a of left) {
    const b = r.get(a.id);
    if (!b) {
      out.push({ kind, id: a.id, left: a, right: null });
      continue;
    }
    for (const field of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const av = (a as Record<string, unknown>)[field];
      const bv = (b as Record<string, unknown>)[field];
      if (canonicalJson(av ?? null) !== canonicalJson(bv ?? null)) out.push({ kind, id: a.id, field, left: av ?? null, right: bv ?? null });
    }
  }
  for (const b of right) if (!l.has(b.id)) out.push({ kind, id: b.id, left: null, right: b });
}

/** Every difference between two snapshots, field by field; empty when they are the same registry. */
export function diffSnapshots(a: RegistrySnapshot, b: RegistrySnapshot): Difference[] {
  const out: Difference[] = [];
  diffItems('artifact', a.artifacts, b.artifacts, out);
  diffItems('model', a.models, b.models, out);
  diffItems('dataset', a.datasets, b.datasets, out);
  diffItems('link', a.links, b.links, out);
  diffItems('key', a.keys, b.keys, out);
  diffItems('audit-event', a.auditEvents, b.auditEvents, out);
  diffItems('audit-event', [{ id: 'head', ...a.auditHead }], [{ id: 'head', ...b.auditHead }], out);
  diffItems('promotion', a.promotions, b.promotions, out);
  diffItems('approval', a.approvals, b.approvals, out);
  diffItems('route', a.routes, b.routes, out);
  diffItems('verdict', a.verdicts, b.verdicts, out);
  diffItems('quarantine', a.quarantines, b.quarantines, out);
  diffItems('serving-deployment', a.servingDeployments, b.servingDeployments, out);
  diffItems('drift-report', a.driftReports, b.driftReports, out);
  diffItems('drift-suggestion', a.driftSuggestions, b.driftSuggestions, out);
  diffItems('event-subscription', a.eventSubscriptions, b.eventSubscriptions, out);
  return out;
}

export type StorageIssueKind = 'orphan-sidecar' | 'unregistered-upload' | 'unexpected-object' | 'missing-object';

export interface StorageIssue {
  kind: StorageIssueKind;
  key: string;
  versionId?: string;
  /** the artifact row that references the missing object */
  artifactId?: string;
  detail: string;
}

/** Bytes awaiting their registration (or their expiry): not an issue, and never a lost record. */
export interface PendingUpload {
  key: string;
  versionId: string;
  size: number;
  lastModified: string;
  /** how it is known to be pending: the store's mark (S3 tag) and/or an open row of the uploads table */
  evidence: ('store-mark' | 'uploads-row')[];
}

export interface StorageParity {
  objects: number;
  artifacts: number;
  issues: StorageIssue[];
  /** uploads not registered yet: expired by the pending-upload schedule, listed apart from the issues */
  pendingUploads: PendingUpload[];
}

/**
 * Objects under `artifacts/` no artifact row references (a crashed registration's sidecars,
 * an upload never registered) and artifact rows whose pinned object versions are gone.
 *
 * @example
 * const { issues } = await storageParity(container.database, container.store);
 * for (const i of issues) console.log(i.kind, i.key, i.detail);
 */
export async function storageParity(database: Database, store: ObjectStore): Promise<StorageParity> {
  const { artifacts, openUploads: open } = await registryObjects(database.db);
  const referenced = new Set<string>();
  const issues: StorageIssue[] = [];
  for (const a of artifacts) {
    for (const { what, key, versionId } of a.objects) {
      referenced.add(key);
      if (!(await store.head(key, { versionId })))
        issues.push({ kind: 'missing-object', key, versionId, artifactId: a.artifactId, detail: `${what} of ${a.artifactId} is missing` });
    }
  }
  // Uploads not claimed by a registration (a rebuilt registry has none: the store's mark still tells).
  const pendingUploads: PendingUpload[] = [];
  let objects = 0;
  for await (const o of store.list('artifacts/')) {
    objects++;
    if (referenced.has(o.key)) continue;
    const name = o.key.slice(o.key.lastIndexOf('/') + 1);
    const evidence = [...(o.pendingUpload ? (['store-mark'] as const) : []), ...(open.has(o.key) ? (['uploads-row'] as const) : [])];
    if (/^(manifest|signature)-.+\.json$/.test(name))
      issues.push({
        kind: 'orphan-sidecar',
        key: o.key,
        versionId: o.versionId,
        detail: 'a sidecar no artifact row references (a registration that crashed before its commit, or a retry beside it)',
      });
    else if (name === 'artifact' && evidence.length)
      pendingUploads.push({ key: o.key, versionId: o.versionId, size: o.size, lastModified: o.lastModified.toISOString(), evidence });
    else if (name === 'artifact') {
      issues.push({
        kind: 'unregistered-upload',
        key: o.key,
        versionId: o.versionId,
        detail:
          'uploaded bytes no artifact row references and not a pending upload (no pending mark, no open upload row): a registration claimed or wrote them and failed before its commit, or its record is lost, or they predate the pending mark',
      });
    } else issues.push({ kind: 'unexpected-object', key: o.key, versionId: o.versionId, detail: 'not a key the registry writes' });
  }
  return { objects, artifacts: artifacts.length, issues, pendingUploads };
}
