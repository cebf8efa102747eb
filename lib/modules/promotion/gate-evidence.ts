/**
 * The facts the promotion gates rely on, read from what cannot be edited unnoticed: the
 * audit chain's `promotion.*` events (each checked against its hash and the audit key's
 * signature) and the promotion records signed with the manifest key. The `promotions.status`
 * column only says where to look; when it claims more than the chain and the signed record
 * support, that is reported as a problem (the policy refuses on it, naming its rule).
 */
import { eventHash, eventStatement, type AuditEvent } from '../../kernel/audit-chain.js';
import { PROMOTION_END_EVENTS } from './events.js';
import { checkSignerValidity, verifyRaw, type KeyRecord } from '../../kernel/signatures.js';
import type { AuditLog, EventQuery } from '../../platform/audit/log.js';
import type { Executor } from '../../platform/ports/database.js';
import { routeSubject } from '../rollout/events.js';
import { promotionRecordBytes } from './domain.js';
import { promotionsForGates, promotionsTo, type StoredPromotion } from './store.js';

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

/** Where the evidence is read: the audit chain, and the key ring its signatures are checked with. */
export interface ChainReader {
  audit: AuditLog;
  keyOf: (kid: string) => KeyRecord | undefined;
}

type Status = (typeof PROMOTION_END_EVENTS)[keyof typeof PROMOTION_END_EVENTS];

const subjectOf = (promotionId: string) => `promotion:${promotionId}`;
const describe = (r: StoredPromotion) => `promotion ${r.promotionId} (${r.kind} to ${r.targetEnv})`;

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
  return verifyRaw(key!.alg, key!.publicKey, promotionRecordBytes(record), sig.signature);
}

/** Does the end event name exactly this promotion, with the status its type says? */
const endMatches = (p: Record<string, unknown>, r: StoredPromotion, status: Status) =>
  p.promotionId === r.promotionId &&
  p.artifactId === r.artifactId &&
  p.targetEnv === r.targetEnv &&
  p.kind === r.kind &&
  p.status === status;

/**
 * Gathers the evidence for a decision about `artifactId` in `targetEnv`: its canary
 * promotions (for the completed-canary gate) and its promotions to `targetEnv` (for the
 * rollback gate), and, when the query names the model, what serves it there. `routedStable` is what the routes table names as
 * serving there; `keys` the ring the signatures are checked with (the caller confirms it is current when it commits).
 * Three statements whatever there is: the route, the promotions, and their events on the chain.
 *
 * @example
 * const e = await gatherGateEvidence(db, { audit, keys: ring.keys, routedStable }, { artifactId, targetEnv: 'prod', modelName });
 * // { canaryPassedRequestsPerArm: 1840, servedBefore: false, serving: { … }, problems: [] }
 */
export async function gatherGateEvidence(
  x: Executor,
  src: { audit: AuditLog; keys: ReadonlyMap<string, KeyRecord>; routedStable: (modelName: string, env: string) => Promise<string | null> },
  q: { artifactId: string; targetEnv: string; modelName?: string },
): Promise<GateEvidence> {
  const envs = [...new Set(['canary', q.targetEnv])];
  const model = q.modelName !== undefined ? { name: q.modelName, env: q.targetEnv } : undefined;
  // the route and the promotions are read at once (neither depends on the other)
  const [routedStable, all] = await Promise.all([
    model && src.routedStable(model.name, model.env),
    promotionsForGates(x, { artifactId: q.artifactId, envs, ...(model && { model }) }),
  ]);
  const where = model && { modelName: model.name, env: model.env, routedStable: routedStable ?? null };
  const rows = all.filter((r) => r.artifactId === q.artifactId && envs.includes(r.targetEnv));
  const toEnv = where ? all.filter((r) => r.modelName === where.modelName && r.targetEnv === where.env) : [];
  const chain: ChainReader = { audit: src.audit, keyOf: (kid) => src.keys.get(kid) };
  const events = await src.audit.eventsOfAny(x, [
    { subjects: rows.map((r) => subjectOf(r.promotionId)), types: ['promotion.step', ...Object.keys(PROMOTION_END_EVENTS)] },
    ...(where ? servingQueries(toEnv, where) : []),
  ]);
  const out: GateEvidence = { canaryPassedRequestsPerArm: 0, servedBefore: false, problems: [] };
  if (where) {
    out.serving = judgeServing(chain, where, toEnv, events);
    out.problems.push(...out.serving.problems);
  }
  for (const r of rows) {
    const { succeeded, bestPassed } = judgeByChain(r, events, chain.keyOf, out.problems);
    if (!succeeded) continue;
    if (r.targetEnv === 'canary' && r.kind === 'promote')
      out.canaryPassedRequestsPerArm = Math.max(out.canaryPassedRequestsPerArm, bestPassed);
    if (r.targetEnv === q.targetEnv) out.servedBefore = true;
  }
  return out;
}

/**
 * What the chain says of one stored promotion: whether it verifiably succeeded (its one end
 * event is `promotion.applied` with a signed record that verifies), and the most requests per
 * arm a passing stage of it served. What cannot be relied on goes to `problems`.
 */
function judgeByChain(
  r: StoredPromotion,
  events: readonly AuditEvent[],
  keyOf: (kid: string) => KeyRecord | undefined,
  problems: string[],
): { succeeded: boolean; bestPassed: number } {
  const subject = subjectOf(r.promotionId);
  const what = describe(r);
  let chainStatus: Status | undefined;
  let recordOk = false;
  let bestPassed = 0;
  for (const e of events) {
    if (e.subject !== subject) continue;
    const bad = eventProblem(e, keyOf);
    if (bad) {
      problems.push(`audit event ${e.seq} (${e.type}) of ${what} cannot be relied on: ${bad}`);
      continue;
    }
    const end = PROMOTION_END_EVENTS[e.type as keyof typeof PROMOTION_END_EVENTS];
    if (end) {
      const matches = endMatches(e.payload, r, end);
      if (chainStatus !== undefined || !matches)
        problems.push(`${what}: audit event ${e.seq} (${e.type}) does not match the promotion or follows another end`);
      chainStatus = end;
      recordOk = matches && recordVerifies(e.payload, keyOf);
      continue;
    }
    const w = e.payload.window as { verdict?: unknown; phase?: unknown; requests?: { stable?: unknown; canary?: unknown } } | undefined;
    // a shadow window's candidate answered mirrored copies that no caller got: not a canary's evidence
    if (
      e.payload.action === 'evaluate' &&
      w?.verdict === 'pass' &&
      w.phase === undefined &&
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
    problems.push(`${what} is stored as succeeded, but ${chain}`);
  }
  return { succeeded, bestPassed };
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

/** The chain's facts on what serves: the end events of the promotions there, and the route's drains. */
function servingQueries(rows: readonly StoredPromotion[], q: { modelName: string; env: string }): EventQuery[] {
  return [
    { subjects: rows.map((r) => subjectOf(r.promotionId)), types: Object.keys(PROMOTION_END_EVENTS) },
    { subjects: [routeSubject(q.modelName, q.env)], types: ['route.drained'] },
  ];
}

/**
 * What serves `modelName` in `env`, read from the chain (each end event checked against its
 * hash, the audit key's signature and its signed promotion record) and compared with what
 * the mutable `routes` row names (`routedStable`): when the row names another stable
 * artifact than the last applied promotion put there, that is a problem the caller refuses on.
 *
 * @example
 * const s = await servingEvidence(db, { audit, keyOf: (kid) => ring.get(kid) }, { modelName: 'fraud', env: 'prod', routedStable: 'a1…' });
 * // { stableArtifactId: 'a1…', promotionId: 'p9…', seq: 812, problems: [] }
 */
export async function servingEvidence(
  x: Executor,
  chain: ChainReader,
  q: { modelName: string; env: string; routedStable: string | null },
): Promise<ServingEvidence> {
  const rows = await promotionsTo(x, q.modelName, q.env);
  return judgeServing(chain, q, rows, await chain.audit.eventsOfAny(x, servingQueries(rows, q)));
}

/** {@link servingEvidence} from what was read: the model's promotions to `env`, and events among which are theirs and the route's. */
function judgeServing(
  chain: ChainReader,
  q: { modelName: string; env: string; routedStable: string | null },
  rows: readonly StoredPromotion[],
  events: readonly AuditEvent[],
): ServingEvidence {
  const out: ServingEvidence = { stableArtifactId: null, promotionId: null, seq: null, problems: [] };
  const byId = new Map(rows.map((r) => [r.promotionId, r]));
  const route = routeSubject(q.modelName, q.env);
  for (const e of events) {
    // only the end events of these promotions (the same events may hold their steps, and other promotions')
    const r = e.subject.startsWith('promotion:') ? byId.get(e.subject.slice('promotion:'.length)) : undefined;
    if (!r || !Object.hasOwn(PROMOTION_END_EVENTS, e.type)) continue;
    const what = describe(r);
    const bad = eventProblem(e, chain.keyOf);
    if (bad) {
      out.problems.push(`audit event ${e.seq} (${e.type}) of ${what} cannot be relied on: ${bad}`);
      continue;
    }
    if (e.type !== 'promotion.applied') continue;
    if (!endMatches(e.payload, r, 'succeeded') || !recordVerifies(e.payload, chain.keyOf)) {
      out.problems.push(`${what}: audit event ${e.seq} (${e.type}) does not match the promotion or its signed record does not verify`);
      continue;
    }
    Object.assign(out, { stableArtifactId: r.artifactId, promotionId: r.promotionId, seq: e.seq });
  }
  afterDrains(
    chain,
    q,
    events.filter((e) => e.subject === route && e.type === 'route.drained'),
    out,
  );
  const stored = q.routedStable;
  if (stored !== out.stableArtifactId) {
    const said =
      out.stableArtifactId === null
        ? 'the audit chain has no applied promotion there'
        : `the last promotion the audit chain shows applied there is ${out.promotionId} (event ${out.seq}) of ${out.stableArtifactId}`;
    out.problems.push(`the routes table says ${stored ?? 'nothing'} serves ${q.modelName} in ${q.env}, but ${said}`);
  }
  return out;
}

/** A verified `route.drained` after the last applied promotion (a quarantine with nowhere to roll back to) leaves nothing serving. */
function afterDrains(chain: ChainReader, q: { modelName: string; env: string }, drains: readonly AuditEvent[], out: ServingEvidence): void {
  const applied = out.seq ?? 0;
  for (const e of drains) {
    const bad = eventProblem(e, chain.keyOf);
    if (bad) out.problems.push(`audit event ${e.seq} (${e.type}) of ${q.modelName} in ${q.env} cannot be relied on: ${bad}`);
    else if (e.seq > applied) Object.assign(out, { stableArtifactId: null, promotionId: null, seq: e.seq });
  }
}
