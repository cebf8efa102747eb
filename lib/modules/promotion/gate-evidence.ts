/**
 * The facts the promotion gates rely on, read from what cannot be edited unnoticed: the
 * audit chain's `promotion.*` events (each checked against its hash and the audit key's
 * signature) and the promotion records signed with the manifest key. The `promotions.status`
 * column only says where to look; when it claims more than the chain and the signed record
 * support, that is reported as a problem (the policy refuses on it, naming its rule).
 */
import { approvalBytes, approvalStatement } from '../../kernel/approvals.js';
import { eventHash, eventStatement, type AuditEvent } from '../../kernel/audit-chain.js';
import { PROMOTION_END_EVENTS } from './events.js';
import { checkSignerValidity, statementBytes, verifyRaw, type KeyRecord } from '../../kernel/signatures.js';
import type { Executor } from '../../platform/ports/database.js';
import { rowToEvent } from '../../platform/audit/log.js';

export interface GateEvidence {
  /**
   * The most requests per arm (the thinner arm) that a passing stage served, over the canary
   * promotions of the artifact that verifiably succeeded; 0 when there is none (a canary with
   * `steps: 0` has no judged stage).
   */
  canaryPassedRequestsPerArm: number;
  /** the artifact served the target environment before: a promotion or rollback to it verifiably applied there */
  servedBefore: boolean;
  /**
   * What serves the model in the target environment (the stable artifact) by the chain: the
   * artifact of the last promotion or rollback verifiably applied there, null when none was.
   * Present when the query names the model.
   */
  serving?: ServingEvidence;
  /** what the stored rows claim and the chain or signed records do not support (empty when consistent) */
  problems: string[];
}

type Status = (typeof PROMOTION_END_EVENTS)[keyof typeof PROMOTION_END_EVENTS];

/** Why an audit event cannot be relied on, or null when its signature and hash check out. */
export function eventProblem(e: AuditEvent, keyOf: (kid: string) => KeyRecord | undefined): string | null {
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
export async function gatherGateEvidence(
  db: Executor,
  keyRing: () => Promise<KeyRecord[]>,
  q: { artifactId: string; targetEnv: string; modelName?: string },
): Promise<GateEvidence> {
  const rows = await db
    .selectFrom('promotions')
    .select(['promotion_id', 'kind', 'artifact_id', 'target_env', 'status'])
    .where('artifact_id', '=', q.artifactId)
    .where('target_env', 'in', [...new Set(['canary', q.targetEnv])])
    .execute();
  const out: GateEvidence = { canaryPassedRequestsPerArm: 0, servedBefore: false, problems: [] };
  let ring: Map<string, KeyRecord> | undefined;
  const keyOf = (kid: string) => ring!.get(kid);
  if (q.modelName !== undefined) {
    ring = new Map((await keyRing()).map((k) => [k.kid, k]));
    out.serving = await servingEvidence(db, keyOf, { modelName: q.modelName, env: q.targetEnv });
    out.problems.push(...out.serving.problems);
  }
  if (rows.length === 0) return out;

  ring ??= new Map((await keyRing()).map((k) => [k.kid, k]));
  const events = (
    await db
      .selectFrom('audit_events')
      .selectAll()
      .where(
        'subject',
        'in',
        rows.map((r) => `promotion:${r.promotion_id}`),
      )
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
        const matches =
          p.promotionId === r.promotion_id &&
          p.artifactId === r.artifact_id &&
          p.targetEnv === r.target_env &&
          p.kind === r.kind &&
          p.status === end;
        if (chainStatus !== undefined || !matches)
          out.problems.push(`${what}: audit event ${e.seq} (${e.type}) does not match the promotion or follows another end`);
        chainStatus = end;
        recordOk = matches && recordVerifies(p, keyOf);
        continue;
      }
      const w = e.payload.window as { verdict?: unknown; requests?: { stable?: unknown; canary?: unknown } } | undefined;
      if (
        e.payload.action === 'evaluate' &&
        w?.verdict === 'pass' &&
        typeof w.requests?.stable === 'number' &&
        typeof w.requests.canary === 'number'
      ) {
        bestPassed = Math.max(bestPassed, Math.min(w.requests.stable, w.requests.canary));
      }
    }
    const succeeded = chainStatus === 'succeeded' && recordOk;
    if (r.status === 'succeeded' && !succeeded) {
      const chain =
        chainStatus === undefined
          ? 'the audit chain has no end event for it'
          : chainStatus !== 'succeeded'
            ? `the audit chain says ${chainStatus}`
            : 'its signed promotion record does not verify';
      out.problems.push(`${what} is stored as succeeded, but ${chain}`);
    }
    if (!succeeded) continue;
    if (r.target_env === 'canary' && r.kind === 'promote')
      out.canaryPassedRequestsPerArm = Math.max(out.canaryPassedRequestsPerArm, bestPassed);
    if (r.target_env === q.targetEnv) out.servedBefore = true;
  }
  return out;
}

export interface ServingEvidence {
  /** the stable artifact by the chain: the artifact of the last verifiably applied promotion or rollback there, null when none */
  stableArtifactId: string | null;
  /** that promotion, and the seq of its `promotion.applied` event */
  promotionId: string | null;
  seq: number | null;
  /** what the `routes` row claims and the chain does not support, and end events that cannot be relied on (empty when consistent) */
  problems: string[];
}

/**
 * What serves `modelName` in `env`, read from the chain (each end event checked against its
 * hash, the audit key's signature and its signed promotion record) and compared with the
 * mutable `routes` row: when the row names another stable artifact than the last applied
 * promotion put there, that is a problem the caller refuses on.
 *
 * @example
 * const s = await servingEvidence(db, (kid) => ring.get(kid), { modelName: 'fraud', env: 'prod' });
 * // { stableArtifactId: 'a1…', promotionId: 'p9…', seq: 812, problems: [] }
 */
export async function servingEvidence(
  db: Executor,
  keyOf: (kid: string) => KeyRecord | undefined,
  q: { modelName: string; env: string },
): Promise<ServingEvidence> {
  const out: ServingEvidence = { stableArtifactId: null, promotionId: null, seq: null, problems: [] };
  const rows = await db
    .selectFrom('promotions')
    .select(['promotion_id', 'kind', 'artifact_id', 'target_env'])
    .where('model_name', '=', q.modelName)
    .where('target_env', '=', q.env)
    .execute();
  const byId = new Map(rows.map((r) => [r.promotion_id, r]));
  const events =
    rows.length === 0
      ? []
      : (
          await db
            .selectFrom('audit_events')
            .selectAll()
            .where(
              'subject',
              'in',
              rows.map((r) => `promotion:${r.promotion_id}`),
            )
            .where('type', 'in', Object.keys(PROMOTION_END_EVENTS))
            .orderBy('seq')
            .execute()
        ).map(rowToEvent);
  for (const e of events) {
    const r = byId.get(e.subject.slice('promotion:'.length))!;
    const what = `promotion ${r.promotion_id} (${r.kind} to ${r.target_env})`;
    const bad = eventProblem(e, keyOf);
    if (bad) {
      out.problems.push(`audit event ${e.seq} (${e.type}) of ${what} cannot be relied on: ${bad}`);
      continue;
    }
    if (e.type !== 'promotion.applied') continue;
    const p = e.payload;
    if (
      p.promotionId !== r.promotion_id ||
      p.artifactId !== r.artifact_id ||
      p.targetEnv !== r.target_env ||
      p.kind !== r.kind ||
      p.status !== 'succeeded' ||
      !recordVerifies(p, keyOf)
    ) {
      out.problems.push(`${what}: audit event ${e.seq} (${e.type}) does not match the promotion or its signed record does not verify`);
      continue;
    }
    Object.assign(out, { stableArtifactId: r.artifact_id, promotionId: r.promotion_id, seq: e.seq });
  }
  const route = await db
    .selectFrom('routes')
    .select(['stable_artifact_id'])
    .where('model_name', '=', q.modelName)
    .where('env', '=', q.env)
    .executeTakeFirst();
  const stored = route?.stable_artifact_id ?? null;
  if (stored !== out.stableArtifactId) {
    const chain =
      out.stableArtifactId === null
        ? 'the audit chain has no applied promotion there'
        : `the last promotion the audit chain shows applied there is ${out.promotionId} (event ${out.seq}) of ${out.stableArtifactId}`;
    out.problems.push(`the routes table says ${stored ?? 'nothing'} serves ${q.modelName} in ${q.env}, but ${chain}`);
  }
  return out;
}

/** A `promotion_approvals` row as stored. */
export interface StoredApproval {
  approver_kid: string;
  signature: string;
  expires_at: string;
}

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
 * const bad = await approvalProblems(tx, (kid) => ring.get(kid), { promotionId, artifactId, manifestSha256, targetEnv: 'prod' }, rows);
 * // Map { 'approver-2' => 'its signature does not verify under approver-2 over …' }
 */
export async function approvalProblems(
  db: Executor,
  keyOf: (kid: string) => KeyRecord | undefined,
  p: { promotionId: string; artifactId: string; manifestSha256: string; targetEnv: string },
  rows: readonly StoredApproval[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (rows.length === 0) return out;
  const accepted = (
    await db
      .selectFrom('audit_events')
      .selectAll()
      .where('subject', '=', `promotion:${p.promotionId}`)
      .where('type', '=', 'promotion.approval_accepted')
      .orderBy('seq')
      .execute()
  )
    .map(rowToEvent)
    .filter((e) => eventProblem(e, keyOf) === null);
  for (const r of rows) {
    const problems: string[] = [];
    const key = keyOf(r.approver_kid);
    if (key?.purpose === 'approver' && !verifyRaw(key.alg, key.publicKey, approvalBytes(approvalStatement(p, r.expires_at)), r.signature)) {
      problems.push(
        `its signature does not verify under ${r.approver_kid} over this promotion, artifact, target and expiry ${r.expires_at}`,
      );
    }
    if (
      !accepted.some(
        (e) => e.payload.approverId === r.approver_kid && e.payload.signature === r.signature && e.payload.expiresAt === r.expires_at,
      )
    ) {
      problems.push('the audit chain records no such accepted approval');
    }
    if (problems.length > 0) out.set(r.approver_kid, `stored approval by ${r.approver_kid}: ${problems.join('; ')}`);
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
 * const why = await rolloutAuthorizationProblem(db, (kid) => ring.get(kid), { promotionId, kind: 'promote', artifactId, targetEnv: 'prod' });
 * // null, or 'promotion 5f0c… waits for approvals and the audit chain shows no quorum for it'
 */
export async function rolloutAuthorizationProblem(
  db: Executor,
  keyOf: (kid: string) => KeyRecord | undefined,
  p: { promotionId: string; kind: string; artifactId: string; targetEnv: string },
): Promise<string | null> {
  const events = (
    await db
      .selectFrom('audit_events')
      .selectAll()
      .where('subject', '=', `promotion:${p.promotionId}`)
      .where('type', 'in', ['promotion.requested', 'promotion.approved'])
      .orderBy('seq')
      .execute()
  ).map(rowToEvent);
  const what = `promotion ${p.promotionId} (${p.kind} to ${p.targetEnv})`;
  const bad = events.map((e) => ({ e, why: eventProblem(e, keyOf) })).filter((x) => x.why !== null);
  if (bad.length > 0) return `${what}: ${bad.map((x) => `audit event ${x.e.seq} (${x.e.type}) cannot be relied on: ${x.why}`).join('; ')}`;
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
