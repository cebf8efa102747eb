/**
 * Restoring the promotion module from the chain: the `promotions` and `promotion_approvals`
 * rows, replayed from the `promotion.*` events in chain order with the writers' own rules. A
 * request inserts the row with its policy outcome (in flight unless denied), accepted
 * approvals add rows and the approval moves it to rolling_out, a cancel or expiry closes it,
 * and an end event signs it off. Pure: the rebuild writes the rows.
 */
import type { Insertable } from 'kysely';
import { appendAll } from '../../kernel/arrays.js';
import { canonicalJson } from '../../kernel/canonical.js';
import type { PolicyDecision } from '../../kernel/policy.js';
import type { Executor } from '../../platform/ports/database.js';
import { toDate, toDateOrNull, type DB } from '../../platform/sql/schema.js';
import type { ApproverWindows } from '../keys/restore.js';
import { handlerFor, inChunks, type EventReplay } from '../restore.js';
import type { CanaryConfig } from '../rollout/domain.js';
import { inFlightKey } from './domain.js';
import {
  PROMOTION_CLOSE_EVENTS,
  PROMOTION_END_EVENTS,
  PromotionApprovalAcceptedPayload,
  PromotionApprovedPayload,
  PromotionClosedPayload,
  PromotionEndedPayload,
  PromotionRequestedPayload,
} from './events.js';
import { approvalRow, insertApprovals, insertPromotions, promotionRow } from './store.js';

type PromotionRow = Insertable<DB['promotions']>;
type ApprovalRow = Insertable<DB['promotion_approvals']>;

export interface PromotionTableRows {
  promotions: PromotionRow[];
  approvals: ApprovalRow[];
}

interface Replay {
  promotions: Map<string, PromotionRow>;
  /** in-flight key → the promotion holding it */
  inFlight: Map<string, string>;
  /** promotion → approver → approval row, replaced when an approver renews an approval that stopped counting */
  approvals: Map<string, Map<string, ApprovalRow>>;
  windows: ApproverWindows;
}

/** The payload's JSON objects as archived: loose schemas, every recorded key kept. */
type Archived = { canary: CanaryConfig; policyDecision: PolicyDecision; recordSignature: Record<string, unknown> };

function request(s: Replay, r: EventReplay, id: string): void {
  const q = r.parse(PromotionRequestedPayload);
  if (!q) return;
  if (q.promotionId !== id) return r.problem(`payload names promotion ${q.promotionId}, the subject ${id}`);
  if (s.promotions.has(id)) return r.problem(`promotion ${id} is requested twice`);
  const inFlight = q.status !== 'denied';
  const flight = inFlightKey(q.modelName, q.targetEnv);
  const holder = inFlight ? s.inFlight.get(flight) : undefined;
  if (holder) r.problem(`promotion ${id} of ${flight} while ${holder} is still in flight`);
  const raw = r.e.payload as Archived;
  const row = promotionRow(
    {
      promotionId: id,
      kind: q.kind,
      artifactId: q.artifactId,
      modelName: q.modelName,
      targetEnv: q.targetEnv,
      manifestSignatureId: q.manifestSignatureId,
      status: q.status,
      requestedBy: r.e.actor,
      reason: q.reason,
      canary: raw.canary,
      policyDecision: raw.policyDecision,
      threshold: q.threshold,
      createdAt: toDate(q.createdAt),
      appliedAt: null,
      recordSignature: raw.recordSignature,
      rolloutState: null,
    },
    inFlight,
  );
  s.promotions.set(id, row);
  if (inFlight) s.inFlight.set(flight, id);
}

/** As approvalCounts, from what the chain says: an approval counts while its statement and its key are valid. */
const counts = (s: Replay, a: ApprovalRow, at: number) => s.windows.open(a.approver_kid, at) && Date.parse(a.expires_at) > at;

function acceptApproval(s: Replay, r: EventReplay, p: PromotionRow): boolean {
  const a = r.parse(PromotionApprovalAcceptedPayload);
  if (!a) return false;
  const id = p.promotion_id;
  const rows = s.approvals.get(id) ?? new Map<string, ApprovalRow>();
  const at = Date.parse(a.at);
  const valid = [...rows.values()].filter((row) => counts(s, row, at)).map((row) => row.approver_kid);
  // today's writer counts the approvals valid then; an older one counted every accepted approval
  const follows = a.count === valid.length + 1 || (a.counted === undefined && a.count === rows.size + 1);
  if (p.status !== 'pending_multisig') r.problem(`promotion ${id} is ${p.status}: it takes no approvals`);
  else if (valid.includes(a.approverId) || (rows.has(a.approverId) && a.counted === undefined))
    r.problem(`approver ${a.approverId} is counted twice for ${id}`);
  else if (!follows || a.threshold !== p.threshold)
    r.problem(`approval ${a.count} of ${a.threshold} does not follow ${valid.length} valid of ${p.threshold}`);
  else {
    const { approverId, signature, expiresAt } = a;
    rows.set(approverId, approvalRow(id, { approverId, signature, expiresAt, createdAt: toDate(a.at) }));
    s.approvals.set(id, rows);
    return true;
  }
  return false;
}

function approve(s: Replay, r: EventReplay, p: PromotionRow): boolean {
  const a = r.parse(PromotionApprovedPayload);
  if (!a) return false;
  const rows = s.approvals.get(p.promotion_id) ?? new Map<string, ApprovalRow>();
  if (p.status !== 'pending_multisig') r.problem(`promotion ${p.promotion_id} is ${p.status}, not pending_multisig`);
  else if (a.approvers.length < (p.threshold ?? Number.POSITIVE_INFINITY) || a.approvers.some((k) => !rows.has(k)))
    r.problem(`approved by ${a.approvers.join(', ')} but ${rows.size} of ${p.threshold} approval(s) were accepted`);
  else {
    p.status = 'rolling_out';
    return true;
  }
  return false;
}

/** The payload names the promotion it is about, its artifact, environment and kind. */
const names = (p: PromotionRow, c: { promotionId: string; artifactId: string; targetEnv: string; kind: string }) =>
  c.promotionId === p.promotion_id && c.artifactId === p.artifact_id && c.targetEnv === p.target_env && c.kind === p.kind;

function close(s: Replay, r: EventReplay, p: PromotionRow): boolean {
  const c = r.parse(PromotionClosedPayload);
  if (!c) return false;
  const id = p.promotion_id;
  if (c.status !== PROMOTION_CLOSE_EVENTS[r.e.type as keyof typeof PROMOTION_CLOSE_EVENTS] || !names(p, c))
    r.problem(`payload (${c.status}, ${c.promotionId}, ${c.artifactId}, ${c.targetEnv}) does not match promotion ${id}`);
  else if (p.status !== 'pending_multisig') r.problem(`promotion ${id} is ${p.status}: only a pending promotion is ${c.status}`);
  else {
    Object.assign(p, { status: c.status, in_flight_key: null });
    s.inFlight.delete(inFlightKey(p.model_name, p.target_env));
    return true;
  }
  return false;
}

/** Signs the promotion off as RolloutService's finish does; the rollout replay settles its state, route and trace. */
function end(s: Replay, r: EventReplay, p: PromotionRow): boolean {
  const f = r.parse(PromotionEndedPayload);
  if (!f) return false;
  const id = p.promotion_id;
  const expected = PROMOTION_END_EVENTS[r.e.type as keyof typeof PROMOTION_END_EVENTS];
  if (f.status !== expected || !names(p, f))
    r.problem(`payload (${f.status}, ${f.promotionId}, ${f.artifactId}, ${f.targetEnv}) does not match promotion ${id} ending ${expected}`);
  else if (p.status !== 'rolling_out') r.problem(`promotion ${id} is ${p.status}, not rolling out`);
  else {
    const recordSignature = canonicalJson((r.e.payload as Archived).recordSignature);
    Object.assign(p, { status: f.status, in_flight_key: null, applied_at: toDateOrNull(f.appliedAt), record_signature: recordSignature });
    s.inFlight.delete(inFlightKey(p.model_name, p.target_env));
    return true;
  }
  return false;
}

/** What each event does to the promotion it is about (after its request); true when it follows. */
const FOLLOW_UPS: Readonly<Record<string, (s: Replay, r: EventReplay, p: PromotionRow) => boolean>> = {
  'promotion.approval_accepted': acceptApproval,
  'promotion.approved': approve,
  ...Object.fromEntries(Object.keys(PROMOTION_CLOSE_EVENTS).map((t) => [t, close])),
  ...Object.fromEntries(Object.keys(PROMOTION_END_EVENTS).map((t) => [t, end])),
};

/** The event types the promotion restore reads; `promotion.approval_refused` changes no row. */
export const RESTORES: readonly string[] = ['promotion.requested', ...Object.keys(FOLLOW_UPS)];

/**
 * The promotions of a chain, replayed event by event. A promotion still pending or rolling
 * out at the end of the archive stays so (a restarted server resumes it).
 */
export class PromotionReplay {
  readonly #s: Replay;

  /** `windows`: the approver keys as the chain has described them so far (the caller replays the key events into it) */
  constructor(windows: ApproverWindows) {
    this.#s = { promotions: new Map(), inFlight: new Map(), approvals: new Map(), windows };
  }

  /**
   * Replays an event about a promotion: one of {@link RESTORES}, or another module's
   * (`promotion.step`). Returns the promotion's row when the event follows from the ones
   * before it, for the rollout replay to go on with; undefined after a request, or with a
   * problem saying why it does not follow.
   */
  apply(r: EventReplay): PromotionRow | undefined {
    const id = /^promotion:(.+)$/.exec(r.e.subject)?.[1];
    if (!id) return void r.problem(`subject ${r.e.subject} names no promotion`, 'payload-invalid');
    if (r.e.type === 'promotion.requested') return void request(this.#s, r, id);
    const p = this.#s.promotions.get(id);
    if (!p) return void r.problem(`no earlier promotion.requested for ${id}`);
    const followUp = handlerFor(FOLLOW_UPS, r.e.type);
    return !followUp || followUp(this.#s, r, p) ? p : undefined;
  }

  /** The rows replayed so far. */
  rows(): PromotionTableRows {
    const approvals: ApprovalRow[] = [];
    for (const rows of this.#s.approvals.values()) appendAll(approvals, rows.values());
    return { promotions: [...this.#s.promotions.values()], approvals };
  }
}

/** Writes the rows in the caller's transaction. */
export async function writePromotions(x: Executor, rows: PromotionTableRows): Promise<void> {
  await inChunks(rows.promotions, (part) => insertPromotions(x, part));
  await inChunks(rows.approvals, (part) => insertApprovals(x, part));
}
