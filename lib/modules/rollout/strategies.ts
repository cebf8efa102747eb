/**
 * The steps of the shadow and blue-green strategies: the shadow's route at the start and when
 * it hands over to the canary stages, the blue-green warm-up and switch, the hold after it,
 * and where a resumed rollout in one of these phases goes on. The canary steps are steps.ts's.
 */
import { AegisError } from '../../kernel/errors.js';
import { DEFAULT_BLUE_GREEN, DEFAULT_SHADOW, initialState, type RolloutState } from './domain.js';
import type { RolloutPromotion } from './ledger.js';
import { save, type Step, type StepOutput } from './step-context.js';
import type { RouteChange } from './store.js';

type StepRoute = Omit<RouteChange, 'stable_artifact_id' | 'promotion_id'>;

/** The route a fresh rollout starts with: the shadow mirrored a share of requests, or the canary at its first percent. */
export function startRoute(state: RolloutState, p: RolloutPromotion): StepRoute {
  if (state.phase === 'shadow') return { shadow_artifact_id: p.artifactId, shadow_percent: (p.canary.shadow ?? DEFAULT_SHADOW).percent };
  return { canary_artifact_id: p.artifactId, canary_percent: state.percent };
}

/** The route of a step up: from the shadow, the mirror ends and the candidate becomes the canary; else the next percent. */
export function stepUpRoute(from: RolloutState, to: RolloutState, p: RolloutPromotion): StepRoute {
  if (from.phase === 'shadow')
    return { shadow_artifact_id: null, shadow_percent: 0, canary_artifact_id: p.artifactId, canary_percent: to.percent };
  return { canary_percent: to.percent };
}

/** Seconds of the blue-green hold still to run at `now` (0 when it has elapsed). */
function holdLeft(p: RolloutPromotion, state: RolloutState, now: Date): number {
  const holdSeconds = (p.canary.blueGreen ?? DEFAULT_BLUE_GREEN).holdSeconds;
  const started = state.stageStartedAt ? Date.parse(state.stageStartedAt) : now.getTime();
  return Math.max(0, Math.ceil((started + holdSeconds * 1000 - now.getTime()) / 1000));
}

/**
 * Where a resumed rollout goes on: a blue-green still warming warms up (nothing moved yet); one
 * in its hold waits what is left of the hold (never promotes early); any other waits what is
 * left of its wait (`left`), or promotes when it was already at 100 %.
 */
export function resumedNext({ d, p }: Step, persisted: RolloutState, left: number | undefined): StepOutput {
  if (persisted.phase === 'warming') return { ...persisted, next: 'warm-up' };
  if (persisted.phase === 'hold') return { ...persisted, windowSeconds: holdLeft(p, persisted, d.clock.now()), next: 'wait' };
  return {
    ...persisted,
    ...(left !== undefined && persisted.percent < 100 ? { windowSeconds: left } : {}),
    next: persisted.percent >= 100 ? 'promote' : 'wait',
  };
}

/**
 * The blue-green warm-up, then the switch. Serving loads green and answers the warm-up
 * requests; any failure rolls back with `warm-up failed: <reason>` and no route change (no
 * traffic moved). A warm green takes 100 % at once as the route's canary while blue stays the
 * stable artifact (routed and loaded), for the hold: a rollback is then a route change.
 */
export async function warmUp(s: Step): Promise<StepOutput> {
  const { d, p } = s;
  const state = s.persisted ?? initialState(p.canary, d.clock.now());
  // a retried step whose switch already committed: the hold goes on
  if (state.phase === 'hold') return { ...state, windowSeconds: holdLeft(p, state, d.clock.now()), next: 'wait' };
  if (state.phase !== 'warming')
    throw new AegisError('CONFLICT', `promotion ${p.promotionId} does not warm up: it is not a blue-green rollout before its switch`, {
      field: 'promotionId',
    });
  if (!d.warmer)
    throw new AegisError('CONFLICT', `promotion ${p.promotionId} cannot warm up green: this deployment has no serving warmer configured`, {
      field: 'promotionId',
    });
  const bg = p.canary.blueGreen ?? DEFAULT_BLUE_GREEN;
  const result = await d.warmer.warmUp({ modelName: p.modelName, env: p.targetEnv, artifactId: p.artifactId, requests: bg.warmUpRequests });
  const warm = { answered: result.answered, requests: result.requests, inputs: result.inputs, ok: result.ok };
  if (!result.ok) {
    const after = { ...state, reason: `warm-up failed: ${result.reason ?? `${result.answered} of ${result.requests} requests answered`}` };
    await save(s, { state: after, action: 'warmUp', route: {}, waitSeconds: null, extra: { warmUp: warm, next: 'rollback' } });
    return { ...after, next: 'rollback' };
  }
  const held: RolloutState = {
    ...state,
    phase: 'hold',
    percent: 100,
    stageStartedAt: d.clock.now().toISOString(),
    windowSeconds: bg.holdSeconds,
  };
  const route = { canary_artifact_id: p.artifactId, canary_percent: 100 };
  await save(s, { state: held, action: 'warmUp', route, waitSeconds: held.windowSeconds, extra: { warmUp: warm, next: 'wait' } });
  return { ...held, next: 'wait' };
}

/**
 * A judge of the hold, without traffic to judge (green serves everything): once the hold has
 * elapsed green is promoted (blue released); before, it waits the rest of the hold, writing
 * nothing (the lease's due time is still the hold's end).
 */
export async function evaluateHold(s: Step, state: RolloutState, now: Date): Promise<StepOutput> {
  const left = holdLeft(s.p, state, now);
  if (left > 0) return { ...state, windowSeconds: left, next: 'wait' };
  const extra = { next: 'promote', detail: 'the blue-green hold has elapsed: green is promoted, blue released' };
  await save(s, { state, action: 'evaluate', route: {}, waitSeconds: null, extra });
  return { ...state, next: 'promote' };
}
