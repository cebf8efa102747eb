/**
 * The promotion module's tables — `promotions` and `promotion_approvals` — and the only code
 * that builds SQL on them. Every function takes the {@link Executor} it runs on (the database
 * or an open transaction): the service decides the transaction. Rows are mapped to
 * {@link StoredPromotion} here, and {@link promotionRow} builds the row a request inserts (and
 * that a restore can insert the same way).
 */
import type { Insertable, QueryCreator, Selectable } from 'kysely';
import { canonicalJson } from '../../kernel/canonical.js';
import type { PolicyDecision } from '../../kernel/policy.js';
import type { AuditLog, LockedHead } from '../../platform/audit/log.js';
import type { Executor } from '../../platform/ports/database.js';
import { toDate, toDateOrNull, type DB } from '../../platform/sql/schema.js';
import type { CanaryConfig, RolloutState } from '../rollout/domain.js';
import { inFlightKey, type PromotionKind } from './domain.js';

type PromotionRow = Selectable<DB['promotions']>;

/** A `promotions` row, its JSON columns parsed. */
export interface StoredPromotion {
  promotionId: string;
  kind: PromotionKind;
  artifactId: string;
  modelName: string;
  targetEnv: string;
  manifestSignatureId: string;
  /** as stored: the status column says where to look, the audit chain what happened */
  status: string;
  requestedBy: string;
  reason: string;
  canary: CanaryConfig;
  policyDecision: PolicyDecision;
  threshold: number | null;
  createdAt: Date;
  appliedAt: Date | null;
  recordSignature: Record<string, unknown> | null;
  rolloutState: RolloutState | null;
}

export function toStored(r: PromotionRow): StoredPromotion {
  return {
    promotionId: r.promotion_id,
    kind: r.kind as PromotionKind,
    artifactId: r.artifact_id,
    modelName: r.model_name,
    targetEnv: r.target_env,
    manifestSignatureId: r.manifest_signature_id,
    status: r.status,
    requestedBy: r.requested_by,
    reason: r.reason,
    canary: JSON.parse(r.canary) as CanaryConfig,
    policyDecision: JSON.parse(r.policy_decision) as PolicyDecision,
    threshold: r.threshold,
    createdAt: toDate(r.created_at),
    appliedAt: toDateOrNull(r.applied_at),
    recordSignature: r.record_signature ? (JSON.parse(r.record_signature) as Record<string, unknown>) : null,
    rolloutState: r.rollout_state ? (JSON.parse(r.rollout_state) as RolloutState) : null,
  };
}

/** The row of a promotion; in flight (holding its model and environment) unless `inFlight` is false. */
export function promotionRow(p: StoredPromotion, inFlight: boolean): Insertable<DB['promotions']> {
  return {
    promotion_id: p.promotionId,
    kind: p.kind,
    artifact_id: p.artifactId,
    model_name: p.modelName,
    target_env: p.targetEnv,
    manifest_signature_id: p.manifestSignatureId,
    status: p.status,
    requested_by: p.requestedBy,
    reason: p.reason,
    canary: canonicalJson(p.canary),
    policy_decision: canonicalJson(p.policyDecision),
    threshold: p.threshold,
    in_flight_key: inFlight ? inFlightKey(p.modelName, p.targetEnv) : null,
    created_at: p.createdAt,
    applied_at: p.appliedAt,
    record_signature: p.recordSignature ? canonicalJson(p.recordSignature) : null,
    rollout_state: p.rolloutState ? canonicalJson(p.rolloutState) : null,
  };
}

/** Inserts the promotion, then locks the audit chain's head in the same statement for the append that follows. */
export async function insertPromotion(x: Executor, row: Insertable<DB['promotions']>, lockHead: AuditLog['lockHead']): Promise<LockedHead> {
  return x
    .with('inserted', (db) => db.insertInto('promotions').values(row).returning('promotion_id'))
    .with('head', (db) => lockHead(db as unknown as QueryCreator<DB>, ['inserted']))
    .selectFrom('head')
    .selectAll()
    .executeTakeFirstOrThrow();
}

/** Several rows in one statement (a restore); at least one. */
export async function insertPromotions(x: Executor, rows: Insertable<DB['promotions']>[]): Promise<void> {
  await x.insertInto('promotions').values(rows).execute();
}

/** Every promotion row by id, and every approval row by promotion and approver (parity). */
export async function allPromotionRows(x: Executor) {
  return {
    promotions: await x.selectFrom('promotions').selectAll().orderBy('promotion_id').execute(),
    approvals: await x.selectFrom('promotion_approvals').selectAll().orderBy('promotion_id').orderBy('approver_kid').execute(),
  };
}

export async function findPromotion(x: Executor, promotionId: string): Promise<StoredPromotion | undefined> {
  const row = await x.selectFrom('promotions').selectAll().where('promotion_id', '=', promotionId).executeTakeFirst();
  return row && toStored(row);
}

/** The promotion, its row locked for the caller's transaction. */
export async function lockPromotion(x: Executor, promotionId: string): Promise<StoredPromotion | undefined> {
  const row = await x.selectFrom('promotions').selectAll().where('promotion_id', '=', promotionId).forUpdate().executeTakeFirst();
  return row && toStored(row);
}

/** The promotion in flight for the model and environment, its row locked (undefined: none). */
export async function lockInFlight(x: Executor, modelName: string, targetEnv: string): Promise<StoredPromotion | undefined> {
  const row = await x
    .selectFrom('promotions')
    .selectAll()
    .where('in_flight_key', '=', inFlightKey(modelName, targetEnv))
    .forUpdate()
    .executeTakeFirst();
  return row && toStored(row);
}

/** Which promotion holds the model and environment, and in what status (undefined: none). */
export async function findInFlight(
  x: Executor,
  modelName: string,
  targetEnv: string,
): Promise<{ promotionId: string; status: string } | undefined> {
  const row = await x
    .selectFrom('promotions')
    .select(['promotion_id', 'status'])
    .where('in_flight_key', '=', inFlightKey(modelName, targetEnv))
    .executeTakeFirst();
  return row && { promotionId: row.promotion_id, status: row.status };
}

/** Moves a pending promotion to `status`: rolling out (its quorum reached, still in flight) or closed (out of flight). */
export async function leavePending(x: Executor, promotionId: string, status: 'rolling_out' | 'cancelled' | 'expired'): Promise<void> {
  await x
    .updateTable('promotions')
    .set(status === 'rolling_out' ? { status } : { status, in_flight_key: null })
    .where('promotion_id', '=', promotionId)
    .where('status', '=', 'pending_multisig')
    .execute();
}

/** Pending promotions created at or before `cutoff`, oldest first, at most `limit`. */
export async function pendingSince(x: Executor, cutoff: Date, limit: number): Promise<string[]> {
  const rows = await x
    .selectFrom('promotions')
    .select('promotion_id')
    .where('status', '=', 'pending_multisig')
    .where('created_at', '<=', cutoff)
    .orderBy('created_at')
    .limit(limit)
    .execute();
  return rows.map((r) => r.promotion_id);
}

/** The artifact's promotions, oldest first. */
export async function promotionsOfArtifact(x: Executor, artifactId: string): Promise<StoredPromotion[]> {
  const rows = await x.selectFrom('promotions').selectAll().where('artifact_id', '=', artifactId).orderBy('created_at').execute();
  return rows.map(toStored);
}

/**
 * What the gates judge, in one statement: the artifact's promotions to any of `envs`, and
 * (`model`) every promotion of the model to its environment. A row of both comes once.
 */
export async function promotionsForGates(
  x: Executor,
  q: { artifactId: string; envs: readonly string[]; model?: { name: string; env: string } },
): Promise<StoredPromotion[]> {
  const { model } = q;
  const rows = await x
    .selectFrom('promotions')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb.and([eb('artifact_id', '=', q.artifactId), eb('target_env', 'in', [...q.envs])]),
        ...(model ? [eb.and([eb('model_name', '=', model.name), eb('target_env', '=', model.env)])] : []),
      ]),
    )
    .execute();
  return rows.map(toStored);
}

/** Every promotion of the model to `env`. */
export async function promotionsTo(x: Executor, modelName: string, env: string): Promise<StoredPromotion[]> {
  const rows = await x.selectFrom('promotions').selectAll().where('model_name', '=', modelName).where('target_env', '=', env).execute();
  return rows.map(toStored);
}

/** The promotions and rollbacks that applied to the model in `env`, the most recent first. */
export async function appliedTo(x: Executor, modelName: string, env: string): Promise<StoredPromotion[]> {
  const rows = await x
    .selectFrom('promotions')
    .selectAll()
    .where('model_name', '=', modelName)
    .where('target_env', '=', env)
    .where('status', '=', 'succeeded')
    .orderBy('applied_at', 'desc')
    .execute();
  return rows.map(toStored);
}

/** The promotions whose status says rolling out. */
export async function rollingOut(x: Executor): Promise<{ promotionId: string; kind: string }[]> {
  const rows = await x.selectFrom('promotions').select(['promotion_id', 'kind']).where('status', '=', 'rolling_out').execute();
  return rows.map((r) => ({ promotionId: r.promotion_id, kind: r.kind }));
}

export async function saveRolloutState(x: Executor, promotionId: string, state: RolloutState): Promise<void> {
  await x
    .updateTable('promotions')
    .set({ rollout_state: canonicalJson(state) })
    .where('promotion_id', '=', promotionId)
    .execute();
}

/** The promotion's status, its row locked for the caller's transaction. */
export async function lockStatus(x: Executor, promotionId: string): Promise<string> {
  const row = await x
    .selectFrom('promotions')
    .select('status')
    .where('promotion_id', '=', promotionId)
    .forUpdate()
    .executeTakeFirstOrThrow();
  return row.status;
}

/** Ends a rollout: its final status, state and signed record; out of flight. */
export async function endRollout(
  x: Executor,
  promotionId: string,
  end: { status: string; appliedAt: Date | null; recordSignature: Record<string, unknown>; rolloutState: RolloutState },
): Promise<void> {
  await x
    .updateTable('promotions')
    .set({
      status: end.status,
      in_flight_key: null,
      applied_at: end.appliedAt,
      record_signature: canonicalJson(end.recordSignature),
      rollout_state: canonicalJson(end.rolloutState),
    })
    .where('promotion_id', '=', promotionId)
    .execute();
}

/** A `promotion_approvals` row. */
export interface StoredApproval {
  approverId: string;
  signature: string;
  expiresAt: string;
  createdAt: Date;
}

/** The promotion's stored approvals (`byTime`: oldest first; otherwise as the database returns them). */
export async function approvalsOf(x: Executor, promotionId: string, opts: { byTime?: boolean } = {}): Promise<StoredApproval[]> {
  let q = x.selectFrom('promotion_approvals').selectAll().where('promotion_id', '=', promotionId);
  if (opts.byTime) q = q.orderBy('created_at');
  return (await q.execute()).map((r) => ({
    approverId: r.approver_kid,
    signature: r.signature,
    expiresAt: r.expires_at,
    createdAt: toDate(r.created_at),
  }));
}

/** The row of an approval of the promotion. */
export function approvalRow(promotionId: string, a: StoredApproval): Insertable<DB['promotion_approvals']> {
  return {
    promotion_id: promotionId,
    approver_kid: a.approverId,
    signature: a.signature,
    expires_at: a.expiresAt,
    created_at: a.createdAt,
  };
}

export async function insertApproval(x: Executor, promotionId: string, a: StoredApproval): Promise<void> {
  await x.insertInto('promotion_approvals').values(approvalRow(promotionId, a)).execute();
}

/** Several rows in one statement (a restore); at least one. */
export async function insertApprovals(x: Executor, rows: Insertable<DB['promotion_approvals']>[]): Promise<void> {
  await x.insertInto('promotion_approvals').values(rows).execute();
}

export async function deleteApproval(x: Executor, promotionId: string, approverId: string): Promise<void> {
  await x.deleteFrom('promotion_approvals').where('promotion_id', '=', promotionId).where('approver_kid', '=', approverId).execute();
}
