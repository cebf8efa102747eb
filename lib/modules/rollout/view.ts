/**
 * How a rollout's steps and judged windows read in `GET /v1/promotions/{id}` and
 * `aegis promotions --id`: the trace of every step, and every judged canary window with its numbers.
 */
import { toIso, toIsoOrNull } from '../../platform/sql/schema.js';
import { stagePercents, type CanaryConfig } from './domain.js';
import type { StoredStep, StoredVerdict } from './store.js';

/** One step a runner took, as the trace shows it. */
export interface TraceStep {
  step: number;
  state: string;
  enteredAt: string;
  finishedAt: string | null;
  input: unknown;
  output: unknown;
  error: string | null;
  runner: string | null;
  leaseToken: number | null;
}

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
  /** the phase judged: `shadow` (mirrored answers, judged on agreement too); absent for a canary stage */
  phase?: 'shadow';
  /** a shadow window's agreement: mirrored requests compared with the stable answer, how many agreed, and the rate (null: none compared) */
  agreement?: { compared: number; agreed: number; rate: number | null };
}

export function traceStep(s: StoredStep): TraceStep {
  return {
    step: s.step,
    state: s.state,
    enteredAt: toIso(s.entered_at),
    finishedAt: toIsoOrNull(s.finished_at),
    input: JSON.parse(s.input) as unknown,
    output: s.output ? (JSON.parse(s.output) as unknown) : null,
    error: s.error,
    runner: s.runner ?? null,
    leaseToken: s.lease_token ?? null,
  };
}

/** The promotion's judged windows, oldest first, with each stage in words. */
export function verdictViews(rows: readonly StoredVerdict[], canary: CanaryConfig): CanaryVerdictView[] {
  const stages = stagePercents(canary).length;
  return rows.map((r) => ({
    seq: r.seq,
    stage: r.stage,
    stageName: r.phase === 'shadow' ? 'shadow' : r.stage >= 0 ? `canary stage ${r.stage + 1} of ${stages}` : 'no canary stage',
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
    ...(r.phase === 'shadow' ? { phase: 'shadow' as const } : {}),
    ...(typeof r.agreement_compared === 'number' && typeof r.agreement_agreed === 'number'
      ? {
          agreement: {
            compared: r.agreement_compared,
            agreed: r.agreement_agreed,
            rate: r.agreement_compared > 0 ? r.agreement_agreed / r.agreement_compared : null,
          },
        }
      : {}),
  }));
}
