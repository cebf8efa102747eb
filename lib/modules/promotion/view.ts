/**
 * How a promotion's rollout reads in `GET /v1/promotions/{id}` and `aegis promotions --id`:
 * the stage in words, and every judged canary window with its numbers.
 */
import { describeStage, stagePercents, type CanaryConfig, type RolloutState } from '../rollout/domain.js';
import { toIso } from '../../platform/sql/schema.js';
import type { Executor } from '../../platform/ports/database.js';

/** One judged canary window, as stored in `canary_verdicts`. */
export interface CanaryVerdictView {
  seq: number;
  /** the stage index (0-based), and the stage in words */
  stage: number;
  stageName: string;
  percent: number;
  from: string;
  to: string;
  verdict: 'pass' | 'fail' | 'inconclusive';
  /** `pass`, `insufficient-traffic`, or the check that failed */
  reason: string;
  /** what the rollout did next: step-up, promote, wait, rollback */
  next: string;
  requests: { stable: number; canary: number };
  errors: { stable: number; canary: number } | null;
  detail: string;
  /** the judge's numbers: error rates and test, latency percentiles, quality, p-values, guardrails (null from a scripted judge) */
  judgement: Record<string, unknown> | null;
  judgedAt: string;
}

/** The persisted rollout state with the stage in words; `stage` is null when there is no canary stage. */
export type RolloutView = Omit<RolloutState, 'stage'> & { stage: number | null; stageName: string };

export function presentRollout(state: RolloutState | null, canary: CanaryConfig, status: string, kind: string): RolloutView | null {
  if (!state) return null;
  return { ...state, stage: state.stage >= 0 ? state.stage : null, stageName: describeStage(state, canary, status, kind) };
}

/** Every judged window of a promotion, oldest first. */
export async function loadVerdicts(db: Executor, promotionId: string, canary: CanaryConfig): Promise<CanaryVerdictView[]> {
  const rows = await db.selectFrom('canary_verdicts').selectAll().where('promotion_id', '=', promotionId).orderBy('seq').execute();
  const stages = stagePercents(canary).length;
  return rows.map((r) => ({
    seq: r.seq,
    stage: r.stage,
    stageName: r.stage >= 0 ? `canary stage ${r.stage + 1} of ${stages}` : 'no canary stage',
    percent: r.percent,
    from: toIso(r.window_from),
    to: toIso(r.window_to),
    verdict: r.verdict as CanaryVerdictView['verdict'],
    reason: r.reason,
    next: r.next,
    requests: { stable: r.stable_requests, canary: r.canary_requests },
    errors: r.stable_errors === null || r.canary_errors === null ? null : { stable: r.stable_errors, canary: r.canary_errors },
    detail: r.detail,
    judgement: r.judgement ? (JSON.parse(r.judgement) as Record<string, unknown>) : null,
    judgedAt: toIso(r.judged_at),
  }));
}
