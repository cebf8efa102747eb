/**
 * The rollout's decisions, pure: the percent schedule of a canary and what follows a judge
 * verdict. The state machine only routes on `next`; every rule lives here.
 */
import type { MachineName } from '../../platform/ports/workflows.js';
import { describePhase } from './phases.js';

export interface CanaryConfig {
  /** first canary percent */
  percent: number;
  windowSeconds: number;
  /** canary stages before full promotion; 0 promotes at once (no canary) */
  steps: number;
  /** relative quality drop that fails the canary (when significant) */
  rollbackThreshold: number;
  /** inconclusive windows tolerated per stage before rolling back with `insufficient-traffic` */
  maxInconclusive: number;
  /** requests each arm needs before a window can pass or fail (the judge's minRequests); absent in older records: 200 */
  minRequests?: number;
  /**
   * labelled predictions each arm needs over the canary so far: given, each canary window must be
   * judged on quality and is inconclusive until both arms have them; absent, quality is judged
   * once both have 50 and a window without them may pass on the other checks
   */
  minLabelled?: number;
  /** how the candidate meets traffic; absent in records written before strategies existed: `canary` */
  strategy?: Strategy;
  /** the shadow phase's settings (strategy `shadow`) */
  shadow?: ShadowConfig;
  /** the switch's settings (strategy `blue-green`) */
  blueGreen?: BlueGreenConfig;
}

/**
 * How a promotion's candidate meets traffic: `canary` (a growing share of callers), `shadow`
 * (a copy of the requests, answers recorded and compared, never returned; then a canary or a
 * full switch), `blue-green` (warmed up, then 100 % at once, the previous artifact kept
 * routable for a hold period so a rollback is a route change).
 */
export const STRATEGIES = ['canary', 'shadow', 'blue-green'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface ShadowConfig {
  /** share of requests mirrored to the candidate, 1–100 */
  percent: number;
  /** passing shadow windows needed before it moves on */
  windows: number;
  /** the least share of mirrored requests whose prediction equals the stable one's, 0–1 */
  minAgreement: number;
  /** after the shadow passes: run the canary stages, or switch 100 % at once */
  then: 'canary' | 'promote';
}

export interface BlueGreenConfig {
  /** seconds the previous (blue) artifact stays routable after the switch; then it is released */
  holdSeconds: number;
  /** warm-up requests green must all answer before any traffic moves (replayed inputs, else synthetic) */
  warmUpRequests: number;
}

export const DEFAULT_SHADOW: ShadowConfig = { percent: 100, windows: 1, minAgreement: 0.9, then: 'canary' };
export const DEFAULT_BLUE_GREEN: BlueGreenConfig = { holdSeconds: 600, warmUpRequests: 20 };

/** The strategy a (possibly older) config runs. */
export const strategyOf = (c: CanaryConfig): Strategy => c.strategy ?? 'canary';

/** The judge's default minimum requests per arm (`CANARY_DEFAULTS.minRequests`). */
export const DEFAULT_MIN_REQUESTS = 200;

export const DEFAULT_CANARY: Record<'staging' | 'canary' | 'prod', CanaryConfig> = {
  staging: { percent: 100, windowSeconds: 0, steps: 0, rollbackThreshold: 0.02, maxInconclusive: 3, minRequests: DEFAULT_MIN_REQUESTS },
  canary: { percent: 5, windowSeconds: 300, steps: 3, rollbackThreshold: 0.02, maxInconclusive: 3, minRequests: DEFAULT_MIN_REQUESTS },
  prod: { percent: 5, windowSeconds: 600, steps: 3, rollbackThreshold: 0.02, maxInconclusive: 3, minRequests: DEFAULT_MIN_REQUESTS },
};

/**
 * After an inconclusive window the next wait is stretched to the time the traffic seen so
 * far needs to reach `minRequests`, at most this many windows.
 */
export const MAX_WAIT_WINDOWS = 4;

/**
 * Serving caches the route for up to 5 s, so the first seconds of a stage still see the
 * previous percent: they are left out of the stage's window (at most a fifth of a window).
 */
export const ROUTE_SETTLE_SECONDS = 5;

/** Stage percents: the first at `percent`, rising linearly toward (never reaching) 100. */
export function stagePercents(c: CanaryConfig): number[] {
  return Array.from({ length: c.steps }, (_, i) => Math.round(c.percent + ((100 - c.percent) * i) / c.steps));
}

export interface RolloutState {
  /** index into stagePercents; -1 when there is no canary stage (steps 0) */
  stage: number;
  percent: number;
  inconclusive: number;
  /** seconds of the next wait (stretched after an inconclusive window) */
  windowSeconds: number;
  /** when the current stage began (ISO): its window accumulates from here */
  stageStartedAt?: string;
  /** when the first canary stage began (ISO): quality is judged from here */
  canaryStartedAt?: string;
  /** why the rollout is rolled back: the failed check, or `insufficient-traffic` */
  reason?: string;
  /**
   * Where a strategy's rollout is: `shadow` (mirrored, judged on agreement), `warming`
   * (blue-green before the switch), `hold` (blue-green after the switch, blue still
   * routable); absent: the canary stages (or none).
   */
  phase?: 'shadow' | 'warming' | 'hold';
  /** passing shadow windows so far */
  shadowPassed?: number;
}

export type Verdict = 'pass' | 'fail' | 'inconclusive';

/** What a Task state of the state machines asks the rollout to do. */
export type StepAction = 'start' | 'evaluate' | 'stepUp' | 'warmUp' | 'promoteFully' | 'rollback' | 'fail';

/** The WarmUp Task's timeout (statemachines/promotion.asl.json): a warm-up step holds the rollout's lease at least this long. */
export const WARM_UP_TASK_SECONDS = 300;

/** The Task state of the promotion state machine that runs each step action (the trace's `state`). */
export const STATE_OF: Readonly<Record<StepAction, string>> = {
  start: 'StartCanary',
  evaluate: 'Evaluate',
  stepUp: 'StepUp',
  warmUp: 'WarmUp',
  promoteFully: 'PromoteFully',
  rollback: 'RollBack',
  fail: 'RecordFailure',
};

/** The state machine that runs a promotion of this kind: a manual rollback only sets the route. */
export const machineOf = (kind: string): MachineName => (kind === 'rollback' ? 'rollback' : 'promotion');

/**
 * The Task state a step runs in: {@link STATE_OF}, except that a manual rollback's
 * `promoteFully` runs as the rollback machine's SetRoute.
 *
 * @example stepState('rollback', 'promoteFully') // 'SetRoute'
 */
export function stepState(kind: string, action: StepAction): string {
  return kind === 'rollback' && action === 'promoteFully' ? 'SetRoute' : STATE_OF[action];
}
export type Next = 'promote' | 'step-up' | 'warm-up' | 'wait' | 'rollback';

/**
 * Where a rollout begins: a canary at its first stage (or 100 % at once with steps 0); a
 * shadow mirroring from now (`shadow`, nothing routed to callers); a blue-green warming up
 * green before any traffic moves (`warming`).
 */
export function initialState(c: CanaryConfig, now: Date): RolloutState {
  const at = now.toISOString();
  const strategy = strategyOf(c);
  if (strategy === 'shadow')
    return { stage: -1, percent: 0, inconclusive: 0, windowSeconds: c.windowSeconds, stageStartedAt: at, phase: 'shadow', shadowPassed: 0 };
  if (strategy === 'blue-green') return { stage: -1, percent: 0, inconclusive: 0, windowSeconds: 0, phase: 'warming' };
  const stages = stagePercents(c);
  if (stages.length === 0) return { stage: -1, percent: 100, inconclusive: 0, windowSeconds: 0 };
  return { stage: 0, percent: stages[0]!, inconclusive: 0, windowSeconds: c.windowSeconds, stageStartedAt: at, canaryStartedAt: at };
}

/**
 * The wait after an inconclusive window: long enough, at the traffic seen so far in the
 * stage, for the thinner arm to reach `minRequests`; at least one window and at most
 * {@link MAX_WAIT_WINDOWS} (also when nothing was served yet).
 */
export function stretchedWait(c: CanaryConfig, progress: { elapsedSeconds: number; requestsPerArm: number }): number {
  const cap = c.windowSeconds * MAX_WAIT_WINDOWS;
  const need = c.minRequests ?? DEFAULT_MIN_REQUESTS;
  if (!(progress.requestsPerArm > 0) || !(progress.elapsedSeconds > 0)) return cap;
  const remaining = progress.elapsedSeconds * (need / progress.requestsPerArm - 1);
  // rounded to the millisecond first, so 600.0000000001 s of float error is not a 601 s wait
  return Math.min(cap, Math.max(c.windowSeconds, Math.ceil(Math.round(remaining * 1000) / 1000)));
}

/**
 * What follows a verdict at this stage. Inconclusive holds the percent (the stage keeps
 * accumulating) and waits longer, until `maxInconclusive` is spent: then it rolls back with
 * reason `insufficient-traffic`. Only a pass moves on; nothing promotes on inconclusive.
 */
export function nextAfterVerdict(
  state: RolloutState,
  verdict: Verdict,
  c: CanaryConfig,
  progress: { elapsedSeconds: number; requestsPerArm: number; failed?: string } = { elapsedSeconds: 0, requestsPerArm: 0 },
): { next: Next; state: RolloutState } {
  const stages = stagePercents(c);
  if (verdict === 'fail') return { next: 'rollback', state: { ...state, reason: progress.failed ?? 'canary-failed' } };
  if (verdict === 'inconclusive') {
    const inconclusive = state.inconclusive + 1;
    if (inconclusive > c.maxInconclusive) return { next: 'rollback', state: { ...state, inconclusive, reason: 'insufficient-traffic' } };
    return { next: 'wait', state: { ...state, inconclusive, windowSeconds: stretchedWait(c, progress) } };
  }
  if (state.stage + 1 >= stages.length) return { next: 'promote', state };
  return { next: 'step-up', state };
}

/**
 * The next canary stage; from the shadow phase, the first canary stage (the phase ends, the
 * canary's quality is judged from now).
 */
export function stepUp(state: RolloutState, c: CanaryConfig, now: Date): RolloutState {
  const stages = stagePercents(c);
  const at = now.toISOString();
  if (state.phase === 'shadow') {
    const { phase: _p, ...rest } = state;
    return {
      ...rest,
      stage: 0,
      percent: stages[0]!,
      inconclusive: 0,
      windowSeconds: c.windowSeconds,
      stageStartedAt: at,
      canaryStartedAt: at,
    };
  }
  const stage = Math.min(state.stage + 1, stages.length - 1);
  return { ...state, stage, percent: stages[stage]!, inconclusive: 0, windowSeconds: c.windowSeconds, stageStartedAt: at };
}

/**
 * What follows a shadow window's verdict. A fail discards the candidate (`shadow: <check>`);
 * inconclusive is as a canary's (`maxInconclusive`, then `insufficient-traffic`); a pass counts,
 * and until `shadow.windows` passed a fresh window is mirrored; then the canary stages
 * (`step-up`), or the full switch when the shadow says so (`then: promote`) or there are none.
 */
export function nextAfterShadowVerdict(
  state: RolloutState,
  verdict: Verdict,
  c: CanaryConfig,
  now: Date,
  progress: { elapsedSeconds: number; requestsPerArm: number; failed?: string } = { elapsedSeconds: 0, requestsPerArm: 0 },
): { next: Next; state: RolloutState } {
  const shadow = c.shadow ?? DEFAULT_SHADOW;
  if (verdict === 'fail') return { next: 'rollback', state: { ...state, reason: `shadow: ${progress.failed ?? 'failed'}` } };
  if (verdict === 'inconclusive') return nextAfterVerdict(state, verdict, c, progress);
  const passed = { ...state, shadowPassed: (state.shadowPassed ?? 0) + 1 };
  if (passed.shadowPassed < shadow.windows)
    return { next: 'wait', state: { ...passed, inconclusive: 0, windowSeconds: c.windowSeconds, stageStartedAt: now.toISOString() } };
  return { next: shadow.then === 'promote' || c.steps === 0 ? 'promote' : 'step-up', state: passed };
}

/**
 * Where a rollout is, in words (what `GET /v1/promotions/{id}` and `aegis promotions` show
 * instead of a stage index).
 *
 * @example describeStage({ stage: 1, percent: 40, … }, canary, 'rolling_out', 'promote') // 'canary stage 2 of 3 at 40 %'
 */
export function describeStage(state: RolloutState | null, c: CanaryConfig, status: string, kind: string): string {
  if (kind === 'rollback') {
    return (
      {
        succeeded: 'rolled back to this artifact (route set)',
        rolling_out: 'setting the route',
        pending_multisig: 'waiting for approvals',
        denied: 'denied',
        failed: 'route change failed; the previous route is unchanged',
      }[status] ?? status
    );
  }
  if (!state)
    return status === 'pending_multisig' ? 'not started: waiting for approvals' : status === 'denied' ? 'not started: denied' : 'starting';
  const phased = describePhase(state, c, status);
  if (phased !== undefined) return phased;
  const stages = stagePercents(c);
  if (state.stage < 0 || stages.length === 0) {
    return status === 'succeeded'
      ? 'applied at 100 % without a canary (steps 0)'
      : status === 'rolling_out'
        ? 'applying at 100 % (no canary)'
        : `${status.replace('_', ' ')} (no canary)`;
  }
  const at = `canary stage ${state.stage + 1} of ${stages.length}`;
  const because = state.reason ? `: ${state.reason}` : '';
  switch (status) {
    case 'rolling_out':
      return `${at} at ${state.percent} %${state.inconclusive > 0 ? ` (${state.inconclusive} inconclusive window${state.inconclusive > 1 ? 's' : ''}, waiting ${state.windowSeconds} s)` : ''}`;
    case 'succeeded':
      return `promoted to 100 % after ${stages.length} canary stage${stages.length > 1 ? 's' : ''}`;
    case 'rolled_back':
      return `rolled back at ${at} (${stages[state.stage]} %)${because}`;
    case 'failed':
      return `failed at ${at} (${stages[state.stage]} %)${because}`;
    default:
      return `${status} at ${at}`;
  }
}
