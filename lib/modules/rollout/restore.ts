/**
 * Restoring the rollout module from the chain: the `routes`, the judged windows
 * (`canary_verdicts`) and an approximate `promotion_steps` trace, replayed from the
 * `promotion.step` events and the end events of the promotions they belong to, with the
 * rollout's own rules. Every step saves its rollout state on the promotion (as
 * PromotionLedger.saveState does) and its route change; an end settles the route. Pure: the
 * rebuild writes the rows.
 */
import type { Insertable } from 'kysely';
import type { CanaryJudgement } from '../../kernel/canary-judge.js';
import { canonicalJson } from '../../kernel/canonical.js';
import type { Executor } from '../../platform/ports/database.js';
import { toDate, type DB } from '../../platform/sql/schema.js';
import { PROMOTION_END_EVENTS } from '../promotion/events.js';
import { handlerFor, inChunks, type EventReplay } from '../restore.js';
import { stepState, type Next, type RolloutState, type StepAction } from './domain.js';
import { PromotionStepPayload, RouteDrainedPayload, type PromotionStep } from './events.js';
import type { RolloutEnd } from './ledger.js';
import {
  DRAINED_ROUTE,
  insertRoutes,
  insertSteps,
  insertVerdicts,
  NO_CANDIDATE,
  routeRow,
  verdictRow,
  type JudgedWindow,
  type RouteChange,
  type RouteRow,
  type StepRow,
  type VerdictRow,
} from './store.js';

export interface RolloutRows {
  steps: StepRow[];
  routes: RouteRow[];
  verdicts: VerdictRow[];
}

/** What the replay reads of a promotion, and the column it moves: its rollout state. */
export type ReplayedPromotion = Pick<
  Insertable<DB['promotions']>,
  'promotion_id' | 'kind' | 'artifact_id' | 'model_name' | 'target_env' | 'status' | 'rollout_state'
>;

interface Replay {
  /** the rollout state each promotion's last step saved */
  states: Map<string, RolloutState>;
  /** model and environment → route */
  routes: Map<string, RouteRow>;
  stepNo: Map<string, number>;
  steps: StepRow[];
  verdicts: VerdictRow[];
}

/** The trace row of the step the event records: state from its action, entered = finished = the event time, output = the payload. */
function trace(s: Replay, r: EventReplay, p: ReplayedPromotion, action: StepAction): void {
  const id = p.promotion_id;
  const step = (s.stepNo.get(id) ?? 0) + 1;
  s.stepNo.set(id, step);
  s.steps.push({
    promotion_id: id,
    step,
    state: stepState(p.kind, action),
    input: canonicalJson({ action }),
    output: canonicalJson(r.e.payload),
    error: null,
    entered_at: toDate(r.e.ts),
    finished_at: toDate(r.e.ts),
  });
}

/** As upsertRoute, at the time of the event. */
function route(s: Replay, r: EventReplay, p: ReplayedPromotion, set: RouteChange): void {
  const key = `${p.model_name}\u0000${p.target_env}`;
  const now = toDate(r.e.ts);
  const existing = s.routes.get(key);
  if (existing) Object.assign(existing, set, { promotion_id: p.promotion_id, updated_at: now });
  else s.routes.set(key, routeRow({ modelName: p.model_name, env: p.target_env }, { ...set, promotion_id: p.promotion_id }, now));
}

/** The stored row of a judged window, from the `window` of its step event. */
function verdict(id: string, w: NonNullable<PromotionStep['window']>): VerdictRow {
  const judged: JudgedWindow = {
    verdict: w.verdict,
    reason: w.reason,
    detail: w.detail,
    requests: w.requests,
    next: w.next as Next,
    from: toDate(w.from),
    to: toDate(w.to),
    stage: w.stage,
    percent: w.percent,
    ...(w.errors ? { errors: w.errors } : {}),
    ...(w.judgement ? { judgement: w.judgement as unknown as CanaryJudgement } : {}),
    ...(w.phase ? { phase: w.phase } : {}),
    ...(w.agreement
      ? { agreement: { ...w.agreement, rate: w.agreement.compared > 0 ? w.agreement.agreed / w.agreement.compared : null } }
      : {}),
  };
  return verdictRow(id, w.seq, judged, toDate(w.judgedAt));
}

// Steps run without a status check (RolloutService's save): replayed the same way.
function step(s: Replay, r: EventReplay, p: ReplayedPromotion): void {
  const e = r.parse(PromotionStepPayload);
  if (!e) return;
  const state: RolloutState = {
    stage: e.stage,
    percent: e.percent,
    inconclusive: e.inconclusive,
    windowSeconds: e.windowSeconds,
    ...(e.stageStartedAt ? { stageStartedAt: e.stageStartedAt } : {}),
    ...(e.canaryStartedAt ? { canaryStartedAt: e.canaryStartedAt } : {}),
    ...(e.reason ? { reason: e.reason } : {}),
    ...(e.phase ? { phase: e.phase } : {}),
    ...(e.shadowPassed !== undefined ? { shadowPassed: e.shadowPassed } : {}),
  };
  s.states.set(p.promotion_id, state);
  p.rollout_state = canonicalJson(state);
  if (e.window) s.verdicts.push(verdict(p.promotion_id, e.window));
  if (Object.keys(e.route).length > 0) route(s, r, p, e.route);
  trace(s, r, p, e.action);
}

const ACTION_OF: Record<RolloutEnd, StepAction> = { succeeded: 'promoteFully', rolled_back: 'rollback', failed: 'fail' };

/**
 * After the promotion replay ended the promotion: as RolloutService's finish, the last saved
 * state (or none) with the final percent, and the end event's reason where the state had none
 * (an abort or a quarantine that took the rollout over).
 */
function end(s: Replay, r: EventReplay, p: ReplayedPromotion): void {
  const status = p.status as RolloutEnd;
  const saved = s.states.get(p.promotion_id) ?? { stage: -1, percent: 0, inconclusive: 0, windowSeconds: 0 };
  const why = (r.e.payload as { reason?: unknown }).reason;
  const state = status !== 'succeeded' && !saved.reason && typeof why === 'string' ? { ...saved, reason: why } : saved;
  p.rollout_state = canonicalJson({ ...state, percent: status === 'succeeded' ? 100 : 0 });
  route(s, r, p, status === 'succeeded' ? { stable_artifact_id: p.artifact_id, ...NO_CANDIDATE } : NO_CANDIDATE);
  trace(s, r, p, ACTION_OF[status]);
}

const HANDLERS: Readonly<Record<string, (s: Replay, r: EventReplay, p: ReplayedPromotion) => void>> = {
  'promotion.step': step,
  ...Object.fromEntries(Object.keys(PROMOTION_END_EVENTS).map((t) => [t, end])),
};

/** The event types the rollout restore reads: its steps, and the ends of the rollouts (recorded by the promotion module's events). */
export const RESTORES: readonly string[] = [...Object.keys(HANDLERS), 'route.drained'];

/** The rollouts of a chain, replayed event by event after the promotion replay has found the promotion and accepted the event. */
export class RolloutReplay {
  readonly #s: Replay = { states: new Map(), routes: new Map(), stepNo: new Map(), steps: [], verdicts: [] };

  /** A drained route (`route.drained`, not about a promotion): as RolloutService's drain, at the time of the event. */
  drain(r: EventReplay): void {
    const e = r.parse(RouteDrainedPayload);
    if (!e) return;
    const key = `${e.modelName}\u0000${e.env}`;
    const existing = this.#s.routes.get(key);
    if (existing) Object.assign(existing, DRAINED_ROUTE, { updated_at: toDate(r.e.ts) });
    else this.#s.routes.set(key, routeRow({ modelName: e.modelName, env: e.env }, DRAINED_ROUTE, toDate(r.e.ts)));
  }

  handles(type: string): boolean {
    return handlerFor(HANDLERS, type) !== undefined;
  }

  apply(r: EventReplay, p: ReplayedPromotion): void {
    handlerFor(HANDLERS, r.e.type)?.(this.#s, r, p);
  }

  /** The rows replayed so far. */
  rows(): RolloutRows {
    return { steps: this.#s.steps, routes: [...this.#s.routes.values()], verdicts: this.#s.verdicts };
  }
}

/** Writes the rows in the caller's transaction. */
export async function writeRollout(x: Executor, rows: RolloutRows): Promise<void> {
  await inChunks(rows.steps, (part) => insertSteps(x, part));
  await inChunks(rows.routes, (part) => insertRoutes(x, part));
  await inChunks(rows.verdicts, (part) => insertVerdicts(x, part));
}
