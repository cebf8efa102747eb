/**
 * The facts the promotion gates rely on, read from what cannot be edited unnoticed: the
 * audit chain's `promotion.*` events (each checked against its hash and the audit key's
 * signature) and the promotion records signed with the manifest key. The `promotions.status`
 * column only says where to look; when it claims more than the chain and the signed record
 * support, that is reported as a problem (the policy refuses on it, naming its rule).
 */
import { eventHash, eventStatement, type AuditEvent } from '../core/audit.js';
import { PROMOTION_END_EVENTS } from '../core/recovery.js';
import { checkSignerValidity, statementBytes, verifyRaw, type KeyRecord } from '../core/signatures.js';
import { rowToEvent, type Executor } from './audit.js';

export interface GateEvidence {
  /**
   * The most requests per arm (the thinner arm) that a passing stage served, over the canary
   * promotions of the artifact that verifiably succeeded; 0 when there is none (a canary with
   * `steps: 0` has no judged stage).
   */
  canaryPassedRequestsPerArm: number;
  /** the artifact served the target environment before: a promotion or rollback to it verifiably applied there */
  servedBefore: boolean;
  /** what the stored rows claim and the chain or signed records do not support (empty when consistent) */
  problems: string[];
}

type Status = (typeof PROMOTION_END_EVENTS)[keyof typeof PROMOTION_END_EVENTS];

/** Why an audit event cannot be relied on, or null when its signature and hash check out. */
function eventProblem(e: AuditEvent, keyOf: (kid: string) => KeyRecord | undefined): string | null {
  const key = keyOf(e.signerId);
  const validity = checkSignerValidity(key, e.ts, 'audit');
  if (!validity.ok) return `signer ${e.signerId}: ${validity.reason}`;
  if (!verifyRaw(key!.alg, key!.publicKey, eventStatement(e.seq, e.hash), e.signature)) return 'its signature does not verify';
  if (eventHash(e) !== e.hash) return 'its content does not match its signed hash';
  return null;
}

/** Does the end event's promotion record carry a valid manifest-key signature over exactly these fields? */
function recordVerifies(payload: Record<string, unknown>, keyOf: (kid: string) => KeyRecord | undefined): boolean {
  const sig = payload.recordSignature as { signerId?: string; alg?: string; ts?: string; signature?: string } | undefined;
  if (!sig?.signerId || !sig.ts || !sig.signature) return false;
  const key = keyOf(sig.signerId);
  if (!checkSignerValidity(key, sig.ts, 'manifest').ok || key!.alg !== sig.alg) return false;
  const { promotionId, kind, artifactId, targetEnv, manifestSignatureId, status, appliedAt } = payload;
  const record = { promotionId, kind, artifactId, targetEnv, manifestSignatureId, status, appliedAt };
  return verifyRaw(key!.alg, key!.publicKey, statementBytes({ type: 'aegis.promotion-record/v1', ...record }), sig.signature);
}

/**
 * Gathers the evidence for a decision about `artifactId` in `targetEnv`: its canary
 * promotions (for the completed-canary gate) and its promotions to `targetEnv` (for the
 * rollback gate).
 *
 * @example
 * const e = await gatherGateEvidence(db, () => keys.list(), { artifactId, targetEnv: 'prod' });
 * // { canaryPassedRequestsPerArm: 1840, servedBefore: false, problems: [] }
 */
export async function gatherGateEvidence(db: Executor, keyRing: () => Promise<KeyRecord[]>, q: { artifactId: string; targetEnv: string }): Promise<GateEvidence> {
  const rows = await db
    .selectFrom('promotions')
    .select(['promotion_id', 'kind', 'artifact_id', 'target_env', 'status'])
    .where('artifact_id', '=', q.artifactId)
    .where('target_env', 'in', [...new Set(['canary', q.targetEnv])])
    .execute();
  const out: GateEvidence = { canaryPassedRequestsPerArm: 0, servedBefore: false, problems: [] };
  if (rows.length === 0) return out;

  const ring = new Map((await keyRing()).map((k) => [k.kid, k]));
  const keyOf = (kid: string) => ring.get(kid);
  const events = (
    await db
      .selectFrom('audit_events')
      .selectAll()
      .where('subject', 'in', rows.map((r) => `promotion:${r.promotion_id}`))
      .where('type', 'in', ['promotion.step', ...Object.keys(PROMOTION_END_EVENTS)])
      .orderBy('seq')
      .execute()
  ).map(rowToEvent);

  for (const r of rows) {
    const subject = `promotion:${r.promotion_id}`;
    const what = `promotion ${r.promotion_id} (${r.kind} to ${r.target_env})`;
    let chainStatus: Status | undefined;
    let recordOk = false;
    let bestPassed = 0;
    for (const e of events) {
      if (e.subject !== subject) continue;
      const bad = eventProblem(e, keyOf);
      if (bad) {
        out.problems.push(`audit event ${e.seq} (${e.type}) of ${what} cannot be relied on: ${bad}`);
        continue;
      }
      const end = PROMOTION_END_EVENTS[e.type as keyof typeof PROMOTION_END_EVENTS];
      if (end) {
        const p = e.payload;
        const matches = p.promotionId === r.promotion_id && p.artifactId === r.artifact_id && p.targetEnv === r.target_env && p.kind === r.kind && p.status === end;
        if (chainStatus !== undefined || !matches) out.problems.push(`${what}: audit event ${e.seq} (${e.type}) does not match the promotion or follows another end`);
        chainStatus = end;
        recordOk = matches && recordVerifies(p, keyOf);
        continue;
      }
      const w = e.payload.window as { verdict?: unknown; requests?: { stable?: unknown; canary?: unknown } } | undefined;
      if (e.payload.action === 'evaluate' && w?.verdict === 'pass' && typeof w.requests?.stable === 'number' && typeof w.requests.canary === 'number') {
        bestPassed = Math.max(bestPassed, Math.min(w.requests.stable, w.requests.canary));
      }
    }
    const succeeded = chainStatus === 'succeeded' && recordOk;
    if (r.status === 'succeeded' && !succeeded) {
      const chain = chainStatus === undefined ? 'the audit chain has no end event for it' : chainStatus !== 'succeeded' ? `the audit chain says ${chainStatus}` : 'its signed promotion record does not verify';
      out.problems.push(`${what} is stored as succeeded, but ${chain}`);
    }
    if (!succeeded) continue;
    if (r.target_env === 'canary' && r.kind === 'promote') out.canaryPassedRequestsPerArm = Math.max(out.canaryPassedRequestsPerArm, bestPassed);
    if (r.target_env === q.targetEnv) out.servedBefore = true;
  }
  return out;
}
