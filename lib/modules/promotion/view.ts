/**
 * How a promotion's rollout reads in `GET /v1/promotions/{id}` and `aegis promotions --id`:
 * the persisted state with the stage in words.
 */
import { describeStage, type CanaryConfig, type RolloutState } from '../rollout/domain.js';

/** The persisted rollout state with the stage in words; `stage` is null when there is no canary stage. */
export type RolloutView = Omit<RolloutState, 'stage'> & { stage: number | null; stageName: string };

export function presentRollout(state: RolloutState | null, canary: CanaryConfig, status: string, kind: string): RolloutView | null {
  if (!state) return null;
  return { ...state, stage: state.stage >= 0 ? state.stage : null, stageName: describeStage(state, canary, status, kind) };
}
