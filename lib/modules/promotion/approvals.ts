/**
 * Approvals of a pending multisig promotion: each checked by TUF rules and audited, accepted
 * or refused; the quorum counted over the approvals valid now; exactly one transition to
 * rolling out when it is reached.
 */
import {
  approvalCounts,
  approvalRefusalField,
  approvalStatement,
  checkApproval,
  type ApprovalCheck,
  type ApprovalRefusal,
} from '../../kernel/approvals.js';
import { AegisError } from '../../kernel/errors.js';
import type { Principal } from '../../kernel/identity.js';
import type { Executor } from '../../platform/ports/database.js';
import { machineOf } from '../rollout/domain.js';
import { approvalProblems } from './authorization-evidence.js';
import { pendingTtlMs, type PromotionDeps, type Tx } from './deps.js';
import { expiredError } from './domain.js';
import { closePending, expiredPending } from './expiry.js';
import { approvalsOf, deleteApproval, findPromotion, insertApproval, leavePending, lockPromotion, type StoredPromotion } from './store.js';

export interface ApprovalBody {
  approverId: string;
  signature: string;
  expiresAt: string;
}

/** What the approval's transaction decided. */
interface Outcome {
  accepted: boolean;
  expired?: boolean;
  reason?: string;
  refusal?: ApprovalRefusal;
  transitioned: boolean;
  kind: string;
}

/** What an approval is about: the statement an approver signs names exactly these. */
type Subject = { promotionId: string; artifactId: string; manifestSha256: string; targetEnv: string };

/**
 * One approval (see {@link PromotionService.approve}): refused approvals are audited without
 * counting; reaching the threshold moves the promotion to rolling out and starts its rollout.
 */
export async function approve(d: PromotionDeps, promotionId: string, body: ApprovalBody, principal: Principal): Promise<void> {
  const now = d.clock.now();
  // The artifact the approvals are about, read before the transaction (PGlite has one
  // connection): a promotion's artifact and an artifact's manifest never change.
  const found = await findPromotion(d.database.db, promotionId);
  if (!found) throw new AegisError('NOT_FOUND', `no promotion ${promotionId}`, { field: 'promotionId' });
  const artifact = await d.registry.get(found.artifactId);
  const outcome = await d.database.db
    .transaction()
    .execute((tx) => decide(d, tx, { promotionId, body, principal, now, manifestSha256: artifact?.manifestSha256 }));
  if (outcome.expired) throw expiredError(promotionId, pendingTtlMs(d));
  if (!outcome.accepted)
    throw new AegisError('APPROVAL_REFUSED', outcome.reason ?? 'approval refused', {
      field: approvalRefusalField(outcome.refusal ?? 'unknown-key', 'promotionId'),
      details: { refusal: outcome.refusal },
    });
  if (outcome.transitioned) await d.workflows.start(machineOf(outcome.kind), promotionId, { promotionId });
}

/** The approval's transaction: the promotion locked, the approval checked against the quorum valid now, then refused or accepted. */
async function decide(
  d: PromotionDeps,
  tx: Tx,
  a: { promotionId: string; body: ApprovalBody; principal: Principal; now: Date; manifestSha256: string | undefined },
): Promise<Outcome> {
  const { promotionId, body, now } = a;
  const p = await lockPromotion(tx, promotionId);
  if (!p) throw new AegisError('NOT_FOUND', `no promotion ${promotionId}`, { field: 'promotionId' });
  if (expiredPending(d, p, now)) {
    await closePending(d, tx, { promotion: p, status: 'expired', actor: 'system', at: now });
    return { accepted: false, expired: true, transitioned: false, kind: p.kind };
  }
  if (p.status !== 'pending_multisig')
    throw new AegisError('CONFLICT', `promotion ${promotionId} is ${p.status}: it takes no approvals`, { field: 'promotionId' });
  if (a.manifestSha256 === undefined) throw new Error(`promotion ${promotionId}: no artifact ${p.artifactId}`);
  const subject: Subject = { promotionId, artifactId: p.artifactId, manifestSha256: a.manifestSha256, targetEnv: p.targetEnv };
  // inside the transaction: PGlite has one connection
  const { valid, stale, tampered } = await quorum(d, tx, subject, now);
  const check = await checkAgainst(d, tx, { p, subject, body, valid, tampered, now });
  const outcome: Outcome = {
    accepted: check.ok,
    ...(check.reason ? { reason: check.reason } : {}),
    ...(check.refusal ? { refusal: check.refusal } : {}),
    transitioned: false,
    kind: p.kind,
  };
  if (check.ok)
    outcome.transitioned = await accept(d, tx, { p, body, principal: a.principal, now, valid, renews: stale.has(body.approverId) });
  else
    await d.audit.append(tx, {
      type: 'promotion.approval_refused',
      actor: a.principal.id,
      subject: `promotion:${promotionId}`,
      payload: {
        approverId: body.approverId,
        refusal: check.refusal,
        reason: check.reason,
        count: valid.size,
        threshold: p.threshold,
        ...(tampered.size > 0 ? { tampered: [...tampered.keys()].sort() } : {}),
      },
    });
  return outcome;
}

/**
 * The approval checked by TUF rules against the approvals counted now. While the promotion
 * holds stored approvals the signatures and the chain do not back, nothing is counted until
 * they are gone (cancel and request again).
 */
async function checkAgainst(
  d: PromotionDeps,
  tx: Tx,
  c: {
    p: StoredPromotion;
    subject: Subject;
    body: ApprovalBody;
    valid: ReadonlySet<string>;
    tampered: ReadonlyMap<string, string>;
    now: Date;
  },
): Promise<ApprovalCheck> {
  if (c.tampered.size > 0)
    return {
      ok: false,
      refusal: 'evidence-mismatch',
      reason: `promotion ${c.p.promotionId} holds approvals the audit chain and their signatures do not support, so none is counted: ${[...c.tampered.values()].join('; ')}`,
    };
  const key = await d.keys.get(c.body.approverId, tx);
  return checkApproval({
    key,
    keyOwner: key?.owner ?? null,
    statement: approvalStatement(c.subject, c.body.expiresAt),
    signatureB64: c.body.signature,
    requester: c.p.requestedBy,
    alreadyCounted: c.valid,
    now: c.now,
  });
}

/** Stores and audits an accepted approval; when it completes the quorum, the promotion rolls out (true). */
async function accept(
  d: PromotionDeps,
  tx: Tx,
  a: { p: StoredPromotion; body: ApprovalBody; principal: Principal; now: Date; valid: ReadonlySet<string>; renews: boolean },
): Promise<boolean> {
  const { p, body, now, renews } = a;
  const promotionId = p.promotionId;
  // an approval that stopped counting (its statement expired) is replaced by the renewed one
  if (renews) await deleteApproval(tx, promotionId, body.approverId);
  await insertApproval(tx, promotionId, {
    approverId: body.approverId,
    signature: body.signature,
    expiresAt: body.expiresAt,
    createdAt: now,
  });
  const counted = [...a.valid, body.approverId].sort();
  await d.audit.append(tx, {
    type: 'promotion.approval_accepted',
    actor: a.principal.id,
    subject: `promotion:${promotionId}`,
    payload: {
      approverId: body.approverId,
      signature: body.signature,
      count: counted.length,
      threshold: p.threshold,
      expiresAt: body.expiresAt,
      at: now.toISOString(),
      counted,
      ...(renews ? { renews: true } : {}),
    },
  });
  if (counted.length < (p.threshold ?? Number.POSITIVE_INFINITY)) return false;
  await leavePending(tx, promotionId, 'rolling_out');
  await d.audit.append(tx, {
    type: 'promotion.approved',
    actor: a.principal.id,
    subject: `promotion:${promotionId}`,
    payload: { approvers: counted, threshold: p.threshold },
  });
  return true;
}

/**
 * The approvers whose approvals count at `now`, those whose approvals stopped counting
 * (expired statement, revoked key: renewable), and the stored approvals that cannot be
 * relied on at all (signature or chain mismatch: counted neither way), with the reason of each.
 */
export async function quorum(d: PromotionDeps, x: Executor, subject: Subject, now: Date) {
  const rows = await approvalsOf(x, subject.promotionId);
  const ring = new Map((await d.keys.list(x)).map((k) => [k.kid, k]));
  const tampered = await approvalProblems(x, { audit: d.audit, keyOf: (kid) => ring.get(kid) }, subject, rows);
  const valid = new Set<string>();
  const stale = new Set<string>();
  const why = new Map<string, string>(tampered);
  for (const r of rows) {
    if (tampered.has(r.approverId)) continue;
    const counts = approvalCounts(ring.get(r.approverId), r.expiresAt, now);
    (counts.ok ? valid : stale).add(r.approverId);
    if (counts.reason) why.set(r.approverId, counts.reason);
  }
  return { valid, stale, tampered, why };
}
