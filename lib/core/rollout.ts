/**
 * The rollout's decisions, pure: the percent schedule of a canary and what follows a judge
 * verdict. The state machine only routes on `next`; every rule lives here.
 */
export interface CanaryConfig {
  /** first canary percent */
  percent: number;
  windowSeconds: number;
  /** canary stages before full promotion; 0 promotes at once (no canary) */
  steps: number;
  /** relative quality drop that fails the canary */
  rollbackThreshold: number;
  /** inconclusive windows tolerated per stage before rolling back */
  maxInconclusive: number;
}

export const DEFAULT_CANARY: Record<'staging' | 'canary' | 'prod', CanaryConfig> = {
  staging: { percent: 100, windowSeconds: 0, steps: 0, rollbackThreshold: 0.02, maxInconclusive: 3 },
  canary: { percent: 5, windowSeconds: 300, steps: 3, rollbackThreshold: 0.02, maxInconclusive: 3 },
  prod: { percent: 5, windowSeconds: 600, steps: 3, rollbackThreshold: 0.02, maxInconclusive: 3 },
};

/** Stage percents: the first at `percent`, rising linearly toward (never reaching) 100. */
export function stagePercents(c: CanaryConfig): number[] {
  return Array.from({ length: c.steps }, (_, i) => Math.round(c.percent + ((100 - c.percent) * i) / c.steps));
}

export interface RolloutState {
  /** index into stagePercents; -1 before the canary starts */
  stage: number;
  percent: number;
  inconclusive: number;
  windowSeconds: number;
}

export type Verdict = 'pass' | 'fail' | 'inconclusive';
export type Next = 'promote' | 'step-up' | 'wait' | 'rollback';

export function initialState(c: CanaryConfig): RolloutState {
  const stages = stagePercents(c);
  return stages.length === 0 ? { stage: -1, percent: 100, inconclusive: 0, windowSeconds: 0 } : { stage: 0, percent: stages[0]!, inconclusive: 0, windowSeconds: c.windowSeconds };
}

/** What follows a verdict at this stage. */
export function nextAfterVerdict(state: RolloutState, verdict: Verdict, c: CanaryConfig): { next: Next; state: RolloutState } {
  const stages = stagePercents(c);
  if (verdict === 'fail') return { next: 'rollback', state };
  if (verdict === 'inconclusive') {
    const inconclusive = state.inconclusive + 1;
    return inconclusive > c.maxInconclusive ? { next: 'rollback', state: { ...state, inconclusive } } : { next: 'wait', state: { ...state, inconclusive } };
  }
  if (state.stage + 1 >= stages.length) return { next: 'promote', state };
  return { next: 'step-up', state };
}

export function stepUp(state: RolloutState, c: CanaryConfig): RolloutState {
  const stages = stagePercents(c);
  const stage = Math.min(state.stage + 1, stages.length - 1);
  return { ...state, stage, percent: stages[stage]!, inconclusive: 0 };
}
