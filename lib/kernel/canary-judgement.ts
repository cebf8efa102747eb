/**
 * What the canary judge (`canary-judge.ts`) is configured with and what it answers: its
 * settings and their defaults, the checks a window can fail, and the judgement with the
 * numbers it rests on (stored, audited and shown).
 */

export interface CanaryConfig {
  /** Relative quality drop, (stable − canary) / stable, that fails the canary when significant. @default 0.02 */ rollbackThreshold?: number;
  /** Family-wise chance that a window of two identical variants fails, over every test it runs. @default 0.02 */ alpha?: number;
  /** Significance level of each guardrail test (error ceiling, sample ratio); part of `alpha`. @default 0.0005 */ guardrailAlpha?: number;
  /** Requests each variant needs before any verdict but inconclusive (guardrails aside). @default 200 */ minRequests?: number;
  /** Latency samples each variant needs. @default 50 */ minLatencySamples?: number;
  /** Labelled predictions each variant needs before quality is judged. @default 50 */ minLabelled?: number;
  /**
   * Whether a window must be judged on quality: with fewer than `minLabelled` labelled predictions
   * on either side it is then at most inconclusive (as with too few requests), instead of passing
   * on the other checks alone (labels arrive late, or not at all, for many models). @default false
   */
  qualityRequired?: boolean;
  /** How much worse (relative) canary p95/p99 may be before it counts. @default 0.10 */ latencyTolerance?: number;
  /**
   * How much worse (absolute, ms) canary p95/p99 may be before it counts, whatever the relative
   * change: a fast model's 0.1 ms against 0.05 ms is noise (scheduling, JIT), not a regression. @default 1
   */
  latencyToleranceMs?: number;
  /** How much higher (absolute) the canary error rate may be before it counts. @default 0.005 */ errorRateTolerance?: number;
  /** Canary error rate that fails at once when the canary is significantly above it (and stable is not). @default 0.05 */ errorRateCeiling?: number;
}

export const CANARY_DEFAULTS = {
  rollbackThreshold: 0.02,
  alpha: 0.02,
  guardrailAlpha: 0.0005,
  minRequests: 200,
  minLatencySamples: 50,
  minLabelled: 50,
  qualityRequired: false,
  latencyTolerance: 0.1,
  latencyToleranceMs: 1,
  errorRateTolerance: 0.005,
  errorRateCeiling: 0.05,
} as const satisfies Required<CanaryConfig>;

/** Every check a window can fail, in the order they are applied. */
export const CANARY_CHECKS = ['errorCeiling', 'sampleRatio', 'errorRate', 'latencyP95', 'latencyP99', 'quality'] as const;
export type CanaryCheck = (typeof CANARY_CHECKS)[number];
/** @deprecated the name before guardrails; same type */
export type CanaryMetric = CanaryCheck;
/** Why a window ended as it did: `pass`, `insufficient-traffic` (inconclusive), or the failed check. */
export type JudgeReason = 'pass' | 'insufficient-traffic' | CanaryCheck;

/** Linear-interpolation percentiles (numpy's default; on bucket values for histograms); null for an empty sample. */
export interface Percentiles {
  n: number;
  p95: number | null;
  p99: number | null;
}

export interface CanaryJudgement {
  verdict: 'pass' | 'fail' | 'inconclusive';
  reason: JudgeReason;
  /** The first failing check, in {@link CANARY_CHECKS} order. */
  failed?: { metric: CanaryCheck; detail: string };
  /** One line per check (and per missing sample on inconclusive), failures included. */
  reasons: string[];
  /** How the family-wise `alpha` was spent in this window. */
  significance: { family: number; guardrail: number; comparisons: number; perComparison: number };
  metrics: {
    requests: { stable: number; canary: number };
    /** `test`: Fisher's exact test while an expected cell count is below 5, else the pooled z-test (`z` null for Fisher). */
    errorRate: { stable: number; canary: number; difference: number; test: 'fisher' | 'z'; z: number | null; pValue: number };
    latency: {
      source: 'samples' | 'histogram';
      stable: Percentiles;
      canary: Percentiles;
      percentileMethod: 'linear';
      u: number;
      z: number;
      pValue: number;
    };
    /** Present when both variants report label feedback; `judged` once both have enough labels. */
    quality?: {
      stable: number;
      canary: number;
      labelled: { stable: number; canary: number };
      relativeDrop: number;
      test: 'fisher' | 'z';
      z: number | null;
      pValue: number;
      judged: boolean;
    };
    guardrails: {
      /** exact binomial test that the canary's error rate exceeds the ceiling */
      errorCeiling: { ceiling: number; canary: number; pValue: number; tripped: boolean };
      /** chi-square test of the canary's share of requests against the route's percent */
      sampleRatio: {
        expectedShare: number | null;
        observedShare: number | null;
        checked: boolean;
        chiSquare: number;
        pValue: number;
        tripped: boolean;
      };
    };
  };
}
