/**
 * Comparing two registries (a rebuilt one with the original, a restored dump with the live
 * one) and a registry with its artifact store.
 */
import { canonicalJson } from '../kernel/canonical.js';
import type { AuditEvent } from '../kernel/audit-chain.js';
import { toIso, toIsoOrNull } from '../platform/sql/schema.js';
import type { Database } from '../platform/ports/database.js';
import type { ObjectStore } from '../platform/ports/object-store.js';
import { rowToEvent } from '../platform/audit/log.js';

export interface ArtifactSnapshot {
  id: string;
  model: string;
  version: number;
  sha256: string;
  size: number;
  manifestSha256: string;
  manifest: string;
  signature: { manifestSignatureId: string; signerId: string; alg: string; signature: string; ts: string };
  storage: {
    key: string;
    versionId: string;
    manifestKey: string;
    manifestVersionId: string;
    signatureKey: string;
    signatureVersionId: string;
  };
  createdBy: string;
  createdAt: string;
}

/** Everything a rebuild must reproduce, in one canonical order. Tokens, uploads and the rollout trace are left out. */
export interface RegistrySnapshot {
  artifacts: ArtifactSnapshot[];
  models: { id: string; latestVersion: number; createdBy: string; createdAt: string }[];
  datasets: { id: string; checksum: string; uri: string; schema: string | null; createdBy: string; createdAt: string }[];
  links: { id: string }[];
  keys: {
    id: string;
    purpose: string;
    alg: string;
    publicKey: string;
    backend: string;
    owner: string | null;
    notBefore: string;
    notAfter: string | null;
    revokedAt: string | null;
  }[];
  auditEvents: (AuditEvent & { id: string })[];
  auditHead: { seq: number; hash: string };
  /** JSON columns re-canonicalized; the execution trace (promotion_steps) is left out: a rebuild cannot restore it exactly */
  promotions: PromotionSnapshot[];
  approvals: { id: string; promotion: string; approver: string; signature: string; expiresAt: string; createdAt: string }[];
  /** updated_at left out: a rebuild sets it to the time of the event, a few ms after the original */
  routes: {
    id: string;
    model: string;
    env: string;
    stable: string | null;
    canary: string | null;
    percent: number;
    promotion: string | null;
  }[];
  /** judged canary windows (restored from the `window` of evaluate step events) */
  verdicts: VerdictSnapshot[];
}

export interface VerdictSnapshot {
  id: string;
  promotion: string;
  seq: number;
  stage: number;
  percent: number;
  from: string;
  to: string;
  verdict: string;
  reason: string;
  next: string;
  requests: { stable: number; canary: number };
  errors: { stable: number; canary: number } | null;
  detail: string;
  judgement: string | null;
  judgedAt: string;
}

export interface PromotionSnapshot {
  id: string;
  kind: string;
  artifact: string;
  model: string;
  env: string;
  manifestSignatureId: string;
  status: string;
  requestedBy: string;
  reason: string;
  canary: string;
  policyDecision: string;
  threshold: number | null;
  inFlightKey: string | null;
  createdAt: string;
  appliedAt: string | null;
  recordSignature: string | null;
  rolloutState: string | null;
}

const recanonical = (text: string | null): string | null => (text === null ? null : canonicalJson(JSON.parse(text)));

/**
 * A snapshot of the registry tables. Timestamps are ISO strings at millisecond precision
 * (what every writer records), `char(64)` columns trimmed, int8 as numbers, so snapshots of
 * PGlite, PostgreSQL and the Data API compare equal.
 *
 * @example
 * const diffs = diffSnapshots(await registrySnapshot(original), await registrySnapshot(rebuilt));
 */
export async function registrySnapshot(database: Database): Promise<RegistrySnapshot> {
  const db = database.db;
  const arts = await db
    .selectFrom('artifacts as a')
    .leftJoin('manifest_signatures as s', 's.manifest_signature_id', 'a.manifest_signature_id')
    .selectAll('a')
    .select(['s.alg', 's.signature', 's.ts', 's.signer_id as sig_signer_id', 's.artifact_id as sig_artifact_id'])
    .orderBy('a.artifact_id')
    .execute();
  const artifacts = arts.map((r): ArtifactSnapshot => ({
    id: r.artifact_id,
    model: r.model_name,
    version: r.version,
    sha256: r.sha256.trim(),
    size: Number(r.size),
    manifestSha256: r.manifest_sha256.trim(),
    manifest: r.manifest,
    signature: {
      manifestSignatureId: r.manifest_signature_id,
      signerId: r.sig_signer_id ?? '(missing)',
      alg: r.alg ?? '(missing)',
      signature: r.signature ?? '(missing)',
      ts: r.ts ? toIso(r.ts) : '(missing)',
    },
    storage: {
      key: r.storage_key,
      versionId: r.storage_version_id,
      manifestKey: r.manifest_key,
      manifestVersionId: r.manifest_version_id,
      signatureKey: r.signature_key,
      signatureVersionId: r.signature_version_id,
    },
    createdBy: r.created_by,
    createdAt: toIso(r.created_at),
  }));
  const models = (await db.selectFrom('models').selectAll().orderBy('name').execute()).map((r) => ({
    id: r.name,
    latestVersion: r.latest_version,
    createdBy: r.created_by,
    createdAt: toIso(r.created_at),
  }));
  const datasets = (await db.selectFrom('datasets').selectAll().orderBy('dataset_id').orderBy('version').execute()).map((r) => ({
    id: `${r.dataset_id}@${r.version}`,
    checksum: r.checksum,
    uri: r.uri,
    schema: r.schema,
    createdBy: r.created_by,
    createdAt: toIso(r.created_at),
  }));
  const links = (await db.selectFrom('artifact_datasets').selectAll().execute())
    .map((r) => ({ id: `${r.artifact_id} -> ${r.dataset_id}@${r.version}` }))
    .sort((x, y) => x.id.localeCompare(y.id));
  const keys = (await db.selectFrom('signing_keys').selectAll().orderBy('kid').execute()).map((r) => ({
    id: r.kid,
    purpose: r.purpose,
    alg: r.alg,
    publicKey: r.public_key,
    backend: r.backend,
    owner: r.owner ?? null,
    notBefore: toIso(r.not_before),
    notAfter: toIsoOrNull(r.not_after),
    revokedAt: toIsoOrNull(r.revoked_at),
  }));
  const auditEvents = (await db.selectFrom('audit_events').selectAll().orderBy('seq').execute()).map((r) => ({
    id: `seq ${r.seq}`,
    ...rowToEvent(r),
  }));
  const head = await db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
  const promotions = (await db.selectFrom('promotions').selectAll().orderBy('promotion_id').execute()).map((r): PromotionSnapshot => ({
    id: r.promotion_id,
    kind: r.kind,
    artifact: r.artifact_id,
    model: r.model_name,
    env: r.target_env,
    manifestSignatureId: r.manifest_signature_id,
    status: r.status,
    requestedBy: r.requested_by,
    reason: r.reason,
    canary: recanonical(r.canary)!,
    policyDecision: recanonical(r.policy_decision)!,
    threshold: r.threshold,
    inFlightKey: r.in_flight_key,
    createdAt: toIso(r.created_at),
    appliedAt: toIsoOrNull(r.applied_at),
    recordSignature: recanonical(r.record_signature),
    rolloutState: recanonical(r.rollout_state),
  }));
  const approvals = (await db.selectFrom('promotion_approvals').selectAll().orderBy('promotion_id').orderBy('approver_kid').execute()).map(
    (r) => ({
      id: `${r.promotion_id} ${r.approver_kid}`,
      promotion: r.promotion_id,
      approver: r.approver_kid,
      signature: r.signature,
      expiresAt: r.expires_at,
      createdAt: toIso(r.created_at),
    }),
  );
  const routes = (await db.selectFrom('routes').selectAll().orderBy('model_name').orderBy('env').execute()).map((r) => ({
    id: `${r.model_name}@${r.env}`,
    model: r.model_name,
    env: r.env,
    stable: r.stable_artifact_id,
    canary: r.canary_artifact_id,
    percent: r.canary_percent,
    promotion: r.promotion_id,
  }));
  const verdicts = (await db.selectFrom('canary_verdicts').selectAll().orderBy('promotion_id').orderBy('seq').execute()).map(
    (r): VerdictSnapshot => ({
      id: `${r.promotion_id} #${r.seq}`,
      promotion: r.promotion_id,
      seq: r.seq,
      stage: r.stage,
      percent: r.percent,
      from: toIso(r.window_from),
      to: toIso(r.window_to),
      verdict: r.verdict,
      reason: r.reason,
      next: r.next,
      requests: { stable: r.stable_requests, canary: r.canary_requests },
      errors: r.stable_errors === null || r.canary_errors === null ? null : { stable: r.stable_errors, canary: r.canary_errors },
      detail: r.detail,
      judgement: recanonical(r.judgement),
      judgedAt: toIso(r.judged_at),
    }),
  );
  return {
    artifacts,
    models,
    datasets,
    links,
    keys,
    auditEvents,
    auditHead: { seq: Number(head?.seq ?? 0), hash: head?.hash.trim() ?? '' },
    promotions,
    approvals,
    routes,
    verdicts,
  };
}

export type DiffKind = 'artifact' | 'model' | 'dataset' | 'key' | 'audit-event' | 'link' | 'promotion' | 'approval' | 'route' | 'verdict';

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
  const rows = await database.db
    .selectFrom('artifacts')
    .select([
      'artifact_id',
      'storage_key',
      'storage_version_id',
      'manifest_key',
      'manifest_version_id',
      'signature_key',
      'signature_version_id',
    ])
    .orderBy('artifact_id')
    .execute();
  const referenced = new Set<string>();
  const issues: StorageIssue[] = [];
  for (const r of rows) {
    const objects: [string, string, string][] = [
      ['artifact bytes', r.storage_key, r.storage_version_id],
      ['manifest sidecar', r.manifest_key, r.manifest_version_id],
      ['signature sidecar', r.signature_key, r.signature_version_id],
    ];
    for (const [what, key, versionId] of objects) {
      referenced.add(key);
      if (!(await store.head(key, { versionId })))
        issues.push({
          kind: 'missing-object',
          key,
          versionId,
          artifactId: r.artifact_id,
          detail: `${what} of ${r.artifact_id} is missing`,
        });
    }
  }
  // Uploads not claimed by a registration (a rebuilt registry has none: the store's mark still tells).
  const open = new Set(
    (
      await database.db
        .selectFrom('uploads')
        .select('storage_key')
        .where('registered_at', 'is', null)
        .where('expired_at', 'is', null)
        .execute()
    ).map((u) => u.storage_key),
  );
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
          'uploaded bytes no artifact row references and not a pending upload (no pending mark, no open upload row): a registration claimed them and its record is lost, or they predate the pending mark',
      });
    } else issues.push({ kind: 'unexpected-object', key: o.key, versionId: o.versionId, detail: 'not a key the registry writes' });
  }
  return { objects, artifacts: rows.length, issues, pendingUploads };
}
