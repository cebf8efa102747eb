/**
 * Approvals of a pending quarantine request (a release always; a quarantine when the policy
 * says so): the promotion approvals' rules and statement (TUF: approver keys, each counted
 * once, never the requester's, unexpired), the statement naming the request and
 * `quarantine:<action>` as its target. The approval that completes the quorum applies the request.
 */
import { approvalCounts, approvalRefusalField, approvalStatement, checkApproval } from '../../kernel/approvals.js';
import { AegisError } from '../../kernel/errors.js';
import type { Principal } from '../../kernel/identity.js';
import { applyRequest } from './apply.js';
import type { QuarantineDeps, Tx } from './deps.js';
import { approvalTarget, type QuarantineRequest } from './domain.js';
import { approvalsOf, deleteApproval, findRequest, insertApprovals, lockRequest } from './store.js';

export interface QuarantineApprovalBody {
  approverId: string;
  signature: string;
  expiresAt: string;
}

/** One approval; refused ones are audited (and answered 422 after the commit). Whether it applied the request. */
export async function approveRequest(
  d: QuarantineDeps,
  requestId: string,
  body: QuarantineApprovalBody,
  principal: Principal,
): Promise<{ applied: boolean; request: QuarantineRequest }> {
  const now = d.clock.now();
  // the artifact the approvals are about, read before the transaction (PGlite has one connection):
  // a request's artifact and an artifact's manifest never change
  const found = await findRequest(d.database.db, requestId);
  if (!found) throw new AegisError('NOT_FOUND', `no quarantine request ${requestId}`, { field: 'requestId' });
  const artifact = await d.registry.get(found.artifactId);
  if (!artifact) throw new Error(`quarantine request ${requestId}: no artifact ${found.artifactId}`);
  const outcome = await d.database.db.transaction().execute(async (tx) => {
    const q = (await lockRequest(tx, requestId))!;
    if (q.status !== 'pending_multisig')
      throw new AegisError('CONFLICT', `quarantine request ${requestId} is ${q.status}: it takes no approvals`, { field: 'requestId' });
    const ring = new Map((await d.keys.list(tx)).map((k) => [k.kid, k]));
    const rows = await approvalsOf(tx, requestId);
    const valid = new Set(rows.filter((r) => approvalCounts(ring.get(r.approverId), r.expiresAt, now).ok).map((r) => r.approverId));
    const subject = {
      promotionId: requestId,
      artifactId: q.artifactId,
      manifestSha256: artifact.manifestSha256,
      targetEnv: approvalTarget(q.action),
    };
    const key = ring.get(body.approverId);
    const check = checkApproval({
      key,
      keyOwner: key?.owner ?? null,
      statement: approvalStatement(subject, body.expiresAt),
      signatureB64: body.signature,
      requester: q.requestedBy,
      alreadyCounted: valid,
      now,
    });
    if (!check.ok) {
      await refuse(d, tx, { q, body, principal, refusal: check.refusal!, reason: check.reason!, count: valid.size });
      return { q, refused: check, applied: false };
    }
    const renews = rows.some((r) => r.approverId === body.approverId);
    return { q, refused: undefined, applied: await accept(d, tx, { q, body, principal, now, valid, renews }) };
  });
  if (outcome.refused) {
    const refusal = outcome.refused.refusal ?? 'unknown-key';
    throw new AegisError('APPROVAL_REFUSED', outcome.refused.reason ?? 'approval refused', {
      field: approvalRefusalField(refusal, 'requestId'),
      details: { refusal },
    });
  }
  return { applied: outcome.applied, request: outcome.q };
}

async function refuse(
  d: QuarantineDeps,
  tx: Tx,
  r: { q: QuarantineRequest; body: QuarantineApprovalBody; principal: Principal; refusal: string; reason: string; count: number },
): Promise<void> {
  await d.audit.append(tx, {
    type: 'quarantine.approval_refused',
    actor: r.principal.id,
    subject: `artifact:${r.q.artifactId}`,
    payload: {
      requestId: r.q.requestId,
      approverId: r.body.approverId,
      refusal: r.refusal,
      reason: r.reason,
      count: r.count,
      threshold: r.q.threshold,
    },
  });
}

/** Stores and audits an accepted approval; when it completes the quorum, the request is applied (true). */
async function accept(
  d: QuarantineDeps,
  tx: Tx,
  a: { q: QuarantineRequest; body: QuarantineApprovalBody; principal: Principal; now: Date; valid: ReadonlySet<string>; renews: boolean },
): Promise<boolean> {
  const { q, body, now } = a;
  if (a.renews) await deleteApproval(tx, q.requestId, body.approverId);
  await insertApprovals(tx, [
    { request_id: q.requestId, approver_kid: body.approverId, signature: body.signature, expires_at: body.expiresAt, created_at: now },
  ]);
  const counted = [...a.valid, body.approverId].sort();
  await d.audit.append(tx, {
    type: 'quarantine.approval_accepted',
    actor: a.principal.id,
    subject: `artifact:${q.artifactId}`,
    payload: {
      requestId: q.requestId,
      approverId: body.approverId,
      signature: body.signature,
      expiresAt: body.expiresAt,
      count: counted.length,
      threshold: q.threshold,
      counted,
      at: now.toISOString(),
      ...(a.renews ? { renews: true } : {}),
    },
  });
  if (counted.length < (q.threshold ?? Number.POSITIVE_INFINITY)) return false;
  await applyRequest(d, tx, q, now, a.principal.id);
  return true;
}
