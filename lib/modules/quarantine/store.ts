/**
 * The quarantine module's tables — `quarantine_requests` and `quarantine_approvals` — and the
 * only code that builds SQL on them. Every function takes the {@link Executor} it runs on.
 */
import type { Insertable, Selectable } from 'kysely';
import { canonicalJson } from '../../kernel/canonical.js';
import type { PolicyDecision } from '../../kernel/policy.js';
import type { Executor } from '../../platform/ports/database.js';
import { toDate, toDateOrNull, type DB } from '../../platform/sql/schema.js';
import type { QuarantineAction, QuarantineEffect, QuarantineRequest, QuarantineStatus, RecordSignature } from './domain.js';

type RequestRow = Selectable<DB['quarantine_requests']>;

export function toRequest(r: RequestRow): QuarantineRequest {
  return {
    requestId: r.request_id,
    action: r.action as QuarantineAction,
    artifactId: r.artifact_id,
    modelName: r.model_name,
    status: r.status as QuarantineStatus,
    reason: r.reason,
    requestedBy: r.requested_by,
    policyDecision: JSON.parse(r.policy_decision) as PolicyDecision,
    threshold: r.threshold,
    createdAt: toDate(r.created_at),
    appliedAt: toDateOrNull(r.applied_at),
    recordSignature: r.record_signature ? (JSON.parse(r.record_signature) as RecordSignature) : null,
    effects: r.effects ? (JSON.parse(r.effects) as QuarantineEffect[]) : null,
  };
}

/** The row of a request (a restore inserts it the same way). */
export function requestRow(q: QuarantineRequest): Insertable<DB['quarantine_requests']> {
  return {
    request_id: q.requestId,
    action: q.action,
    artifact_id: q.artifactId,
    model_name: q.modelName,
    status: q.status,
    reason: q.reason,
    requested_by: q.requestedBy,
    policy_decision: canonicalJson(q.policyDecision),
    threshold: q.threshold,
    pending_key: q.status === 'pending_multisig' ? q.artifactId : null,
    created_at: q.createdAt,
    applied_at: q.appliedAt,
    record_signature: q.recordSignature ? canonicalJson(q.recordSignature) : null,
    effects: q.effects ? canonicalJson(q.effects) : null,
  };
}

export async function insertRequest(x: Executor, row: Insertable<DB['quarantine_requests']>): Promise<void> {
  await x.insertInto('quarantine_requests').values(row).execute();
}

export async function insertRequests(x: Executor, rows: Insertable<DB['quarantine_requests']>[]): Promise<void> {
  await x.insertInto('quarantine_requests').values(rows).execute();
}

export async function findRequest(x: Executor, requestId: string): Promise<QuarantineRequest | undefined> {
  const row = await x.selectFrom('quarantine_requests').selectAll().where('request_id', '=', requestId).executeTakeFirst();
  return row && toRequest(row);
}

export async function lockRequest(x: Executor, requestId: string): Promise<QuarantineRequest | undefined> {
  const row = await x.selectFrom('quarantine_requests').selectAll().where('request_id', '=', requestId).forUpdate().executeTakeFirst();
  return row && toRequest(row);
}

/** The artifact's request waiting for approvals (undefined: none). */
export async function pendingOf(x: Executor, artifactId: string): Promise<QuarantineRequest | undefined> {
  const row = await x.selectFrom('quarantine_requests').selectAll().where('pending_key', '=', artifactId).executeTakeFirst();
  return row && toRequest(row);
}

/** The artifact's applied requests, oldest first: the last says whether it is quarantined. */
export async function appliedOf(x: Executor, artifactId: string): Promise<QuarantineRequest[]> {
  const rows = await x
    .selectFrom('quarantine_requests')
    .selectAll()
    .where('artifact_id', '=', artifactId)
    .where('status', '=', 'applied')
    .orderBy('applied_at')
    .orderBy('created_at')
    .execute();
  return rows.map(toRequest);
}

/**
 * Applied quarantines whose enforcement never recorded its effects (the process died between
 * the commit and the enforcement, or during it), oldest first.
 */
export async function unenforced(x: Executor): Promise<QuarantineRequest[]> {
  const rows = await x
    .selectFrom('quarantine_requests')
    .selectAll()
    .where('action', '=', 'quarantine')
    .where('status', '=', 'applied')
    .where('effects', 'is', null)
    .orderBy('applied_at')
    .execute();
  return rows.map(toRequest);
}

/** Every request of the artifact, oldest first. */
export async function requestsOf(x: Executor, artifactId: string): Promise<QuarantineRequest[]> {
  const rows = await x.selectFrom('quarantine_requests').selectAll().where('artifact_id', '=', artifactId).orderBy('created_at').execute();
  return rows.map(toRequest);
}

/** Which of these artifacts have an applied request, with their applied requests oldest first. */
export async function appliedOfMany(x: Executor, artifactIds: readonly string[]): Promise<QuarantineRequest[]> {
  if (artifactIds.length === 0) return [];
  const rows = await x
    .selectFrom('quarantine_requests')
    .selectAll()
    .where('artifact_id', 'in', [...artifactIds])
    .where('status', '=', 'applied')
    .orderBy('applied_at')
    .orderBy('created_at')
    .execute();
  return rows.map(toRequest);
}

/** Marks a request applied with its signed record; out of pending. */
export async function markApplied(x: Executor, requestId: string, appliedAt: Date, recordSignature: RecordSignature): Promise<void> {
  await x
    .updateTable('quarantine_requests')
    .set({ status: 'applied', pending_key: null, applied_at: appliedAt, record_signature: canonicalJson(recordSignature) })
    .where('request_id', '=', requestId)
    .execute();
}

export async function saveEffects(x: Executor, requestId: string, effects: readonly QuarantineEffect[]): Promise<void> {
  await x
    .updateTable('quarantine_requests')
    .set({ effects: canonicalJson(effects) })
    .where('request_id', '=', requestId)
    .execute();
}

export interface StoredQuarantineApproval {
  approverId: string;
  signature: string;
  expiresAt: string;
  createdAt: Date;
}

export async function approvalsOf(x: Executor, requestId: string): Promise<StoredQuarantineApproval[]> {
  const rows = await x.selectFrom('quarantine_approvals').selectAll().where('request_id', '=', requestId).orderBy('created_at').execute();
  return rows.map((r) => ({
    approverId: r.approver_kid,
    signature: r.signature,
    expiresAt: r.expires_at,
    createdAt: toDate(r.created_at),
  }));
}

export function approvalRow(requestId: string, a: StoredQuarantineApproval): Insertable<DB['quarantine_approvals']> {
  return { request_id: requestId, approver_kid: a.approverId, signature: a.signature, expires_at: a.expiresAt, created_at: a.createdAt };
}

export async function insertApprovals(x: Executor, rows: Insertable<DB['quarantine_approvals']>[]): Promise<void> {
  await x.insertInto('quarantine_approvals').values(rows).execute();
}

export async function deleteApproval(x: Executor, requestId: string, approverId: string): Promise<void> {
  await x.deleteFrom('quarantine_approvals').where('request_id', '=', requestId).where('approver_kid', '=', approverId).execute();
}

/** Every row of both tables (parity). */
export async function allQuarantineRows(x: Executor) {
  return {
    requests: await x.selectFrom('quarantine_requests').selectAll().orderBy('request_id').execute(),
    approvals: await x.selectFrom('quarantine_approvals').selectAll().orderBy('request_id').orderBy('approver_kid').execute(),
  };
}
