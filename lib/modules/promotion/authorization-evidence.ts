/**
 * Whether the audit chain backs what the stored rows say a promotion is authorized to do:
 * each stored approval (signed, and accepted in the chain), and a `rolling_out` status (the
 * policy allowed it, or an approval quorum closed).
 */
import { approvalBytes, approvalStatement } from '../../kernel/approvals.js';
import { verifyRaw } from '../../kernel/signatures.js';
import type { Executor } from '../../platform/ports/database.js';
import { eventProblem, type ChainReader } from './gate-evidence.js';
import type { StoredApproval } from './store.js';

/**
 * Why each stored approval of a promotion cannot be relied on (approver → problem; absent
 * when it checks out): its signature must verify under the approver key over the statement
 * for exactly this promotion, artifact, target and stored expiry, and the chain must hold a
 * verified `promotion.approval_accepted` event for it with the same signature and expiry. A
 * row inserted or edited in the database (a forged approver, a signature copied from another
 * promotion, a moved expiry) fails one or both. Whether a genuine approval still counts now
 * (expiry, revocation) is {@link approvalCounts}' question, not this one.
 *
 * @example
 * const bad = await approvalProblems(tx, { audit, keyOf: (kid) => ring.get(kid) }, { promotionId, artifactId, manifestSha256, targetEnv: 'prod' }, rows);
 * // Map { 'approver-2' => 'its signature does not verify under approver-2 over …' }
 */
export async function approvalProblems(
  x: Executor,
  chain: ChainReader,
  p: { promotionId: string; artifactId: string; manifestSha256: string; targetEnv: string },
  rows: readonly Pick<StoredApproval, 'approverId' | 'signature' | 'expiresAt'>[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (rows.length === 0) return out;
  const accepted = (
    await chain.audit.events(x, { subjects: [`promotion:${p.promotionId}`], types: ['promotion.approval_accepted'] })
  ).filter((e) => eventProblem(e, chain.keyOf) === null);
  for (const r of rows) {
    const problems: string[] = [];
    const key = chain.keyOf(r.approverId);
    if (key?.purpose === 'approver' && !verifyRaw(key.alg, key.publicKey, approvalBytes(approvalStatement(p, r.expiresAt)), r.signature)) {
      problems.push(`its signature does not verify under ${r.approverId} over this promotion, artifact, target and expiry ${r.expiresAt}`);
    }
    if (
      !accepted.some(
        (e) => e.payload.approverId === r.approverId && e.payload.signature === r.signature && e.payload.expiresAt === r.expiresAt,
      )
    ) {
      problems.push('the audit chain records no such accepted approval');
    }
    if (problems.length > 0) out.set(r.approverId, `stored approval by ${r.approverId}: ${problems.join('; ')}`);
  }
  return out;
}

/**
 * Why the chain does not let promotion `p` roll out, or null when it does: its verified
 * `promotion.requested` event shows the policy allowed it outright, or it was pending multisig
 * and a verified `promotion.approved` event closed its quorum. A `status` column edited to
 * `rolling_out` has neither, and a restart would otherwise resume it as if approved.
 *
 * @example
 * const why = await rolloutAuthorizationProblem(db, { audit, keyOf: (kid) => ring.get(kid) }, { promotionId, kind: 'promote', artifactId, targetEnv: 'prod' });
 * // null, or 'promotion 5f0c… waits for approvals and the audit chain shows no quorum for it'
 */
export async function rolloutAuthorizationProblem(
  x: Executor,
  chain: ChainReader,
  p: { promotionId: string; kind: string; artifactId: string; targetEnv: string },
): Promise<string | null> {
  const events = await chain.audit.events(x, {
    subjects: [`promotion:${p.promotionId}`],
    types: ['promotion.requested', 'promotion.approved'],
  });
  const what = `promotion ${p.promotionId} (${p.kind} to ${p.targetEnv})`;
  const bad = events.map((e) => ({ e, why: eventProblem(e, chain.keyOf) })).filter((b) => b.why !== null);
  if (bad.length > 0) return `${what}: ${bad.map((b) => `audit event ${b.e.seq} (${b.e.type}) cannot be relied on: ${b.why}`).join('; ')}`;
  const requested = events.find((e) => e.type === 'promotion.requested');
  if (!requested) return `${what} is stored as rolling out, but the audit chain has no request for it`;
  const r = requested.payload;
  if (r.promotionId !== p.promotionId || r.kind !== p.kind || r.artifactId !== p.artifactId || r.targetEnv !== p.targetEnv)
    return `${what}: its request in the audit chain (event ${requested.seq}) is for another artifact, target or kind`;
  if (r.status === 'rolling_out') return null;
  if (r.status === 'pending_multisig' && events.some((e) => e.type === 'promotion.approved')) return null;
  return r.status === 'pending_multisig'
    ? `${what} is stored as rolling out, but it waits for approvals and the audit chain shows no quorum for it`
    : `${what} is stored as rolling out, but the audit chain shows it ${String(r.status)}`;
}
