/**
 * What the canary judge reads: per-variant request, error, latency and label counts over a
 * time window. Serving implements {@link MetricsSource} from its request logs; the local
 * stack and tests replay recorded samples (`RecordedMetricsSource`).
 */

/** The two arms of a canary deployment. */
export type Variant = 'stable' | 'canary';

/** Everything the judge needs from one variant over one window. */
export interface VariantMetrics {
  /** Requests served in the window. */
  requests: number;
  /** Requests among them that failed (5xx, timeouts, model errors). */
  errors: number;
  /** One end-to-end latency per (sampled) request, in milliseconds, in any order. */
  latenciesMs: number[];
  /**
   * Label feedback: of the `labelled` predictions whose ground truth arrived, `correct`
   * matched it. Absent when the model has no label feedback.
   */
  quality?: { correct: number; labelled: number };
}

/**
 * Port: serving metrics of one deployment, split by variant.
 *
 * @example
 * const stable = await metrics.window('churn/prod', 'stable', from, to);
 * const canary = await metrics.window('churn/prod', 'canary', from, to);
 * const result = judgeCanary({ stable, canary, config: {} });
 */
export interface MetricsSource {
  /**
   * Metrics of requests that arrived in the half-open window `[from, to)`, so adjacent
   * windows never count a request twice.
   */
  window(deploymentKey: string, variant: Variant, from: Date, to: Date): Promise<VariantMetrics>;
}
