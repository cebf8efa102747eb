import { checkSignerValidity, statementBytes, verifyRaw, type KeyRecord } from './signatures.js';

/**
 * What an approver signs: the promotion, the exact artifact and manifest, the target and
 * the decision, with an expiry, so a signature cannot be replayed for anything else.
 */
export interface ApprovalStatement {
  type: 'aegis.promotion-approval/v1';
  promotionId: string;
  artifactId: string;
  manifestSha256: string;
  targetEnv: string;
  decision: 'approve';
  expiresAt: string;
}

export const approvalStatement = (
  p: { promotionId: string; artifactId: string; manifestSha256: string; targetEnv: string },
  expiresAt: string,
): ApprovalStatement => ({
  type: 'aegis.promotion-approval/v1',
  promotionId: p.promotionId,
  artifactId: p.artifactId,
  manifestSha256: p.manifestSha256,
  targetEnv: p.targetEnv,
  decision: 'approve',
  expiresAt,
});

export const approvalBytes = (s: ApprovalStatement) => statementBytes(s);

/** Longest an approval may be valid for: long enough to gather signatures, short enough not to linger. */
export const MAX_APPROVAL_TTL_MS = 7 * 24 * 3600 * 1000;

/** `evidence-mismatch`: the promotion holds stored approvals that their signatures and the audit chain do not back. */
export type ApprovalRefusal =
  | 'unknown-key'
  | 'wrong-role'
  | 'revoked'
  | 'key-not-valid'
  | 'expired'
  | 'expiry-too-far'
  | 'bad-signature'
  | 'requester'
  | 'duplicate'
  | 'evidence-mismatch';

/**
 * The request field an approval refusal is about; `subjectField` names what is approved
 * (`promotionId`, `requestId`): its stored approvals, not this request, are at fault on an
 * evidence mismatch.
 */
export function approvalRefusalField(refusal: ApprovalRefusal, subjectField: string): string {
  if (refusal === 'bad-signature') return 'signature';
  if (refusal === 'expired' || refusal === 'expiry-too-far') return 'expiresAt';
  if (refusal === 'evidence-mismatch') return subjectField;
  return 'approverId';
}

export interface ApprovalCheck {
  ok: boolean;
  refusal?: ApprovalRefusal;
  reason?: string;
}

/**
 * TUF-style rules for one approval: the key must be a known, unrevoked approver key valid
 * now, the statement unexpired (and not valid for absurdly long), the signature good, and
 * the approver neither the requester nor already counted.
 */
export function checkApproval(input: {
  key: KeyRecord | undefined;
  keyOwner: string | null;
  statement: ApprovalStatement;
  signatureB64: string;
  requester: string;
  alreadyCounted: ReadonlySet<string>;
  now: Date;
}): ApprovalCheck {
  const { key, statement, now } = input;
  if (!key) return { ok: false, refusal: 'unknown-key', reason: 'approver key is not in the key ring' };
  if (key.purpose !== 'approver')
    return { ok: false, refusal: 'wrong-role', reason: `${key.kid} is a ${key.purpose} key, not an approver key` };
  if (key.revokedAt) return { ok: false, refusal: 'revoked', reason: `${key.kid} was revoked at ${key.revokedAt}` };
  const validity = checkSignerValidity(key, now.toISOString(), 'approver');
  if (!validity.ok) return { ok: false, refusal: 'key-not-valid', reason: `${key.kid}: ${validity.reason}` };
  const expires = Date.parse(statement.expiresAt);
  if (!(expires > now.getTime())) return { ok: false, refusal: 'expired', reason: `approval expired at ${statement.expiresAt}` };
  if (expires - now.getTime() > MAX_APPROVAL_TTL_MS)
    return { ok: false, refusal: 'expiry-too-far', reason: 'approval expiry is more than 7 days away' };
  if (!verifyRaw(key.alg, key.publicKey, approvalBytes(statement), input.signatureB64)) {
    return {
      ok: false,
      refusal: 'bad-signature',
      reason: `signature does not verify under ${key.kid} for this promotion, artifact, target and expiry`,
    };
  }
  if (input.keyOwner && input.keyOwner === input.requester)
    return { ok: false, refusal: 'requester', reason: "the requester's own approval does not count" };
  if (input.alreadyCounted.has(key.kid))
    return { ok: false, refusal: 'duplicate', reason: `${key.kid} has already approved; each approver counts once` };
  return { ok: true };
}

/**
 * Does an accepted approval still count at `now`? Quorum is computed when the transition
 * happens, over approvals valid then: the statement unexpired and the key known, an
 * approver key, unrevoked and inside its validity window. An approval that stopped counting
 * may be renewed by its approver (a new statement replaces it).
 */
export function approvalCounts(key: KeyRecord | undefined, expiresAt: string, now: Date): ApprovalCheck {
  if (!key) return { ok: false, refusal: 'unknown-key', reason: 'approver key is no longer in the key ring' };
  if (key.purpose !== 'approver')
    return { ok: false, refusal: 'wrong-role', reason: `${key.kid} is a ${key.purpose} key, not an approver key` };
  if (key.revokedAt) return { ok: false, refusal: 'revoked', reason: `${key.kid} was revoked at ${key.revokedAt}` };
  const validity = checkSignerValidity(key, now.toISOString(), 'approver');
  if (!validity.ok) return { ok: false, refusal: 'key-not-valid', reason: `${key.kid}: ${validity.reason}` };
  if (!(Date.parse(expiresAt) > now.getTime())) return { ok: false, refusal: 'expired', reason: `approval expired at ${expiresAt}` };
  return { ok: true };
}
