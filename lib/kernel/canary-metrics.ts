/**
 * What the canary judge reads: per-variant request, error, latency and label counts over a
 * time window, and how latencies are bucketed. The port that supplies them (`MetricsSource`)
 * is `lib/platform/ports/canary-metrics.ts`.
 */

/** The two arms of a canary deployment. */
export type Variant = 'stable' | 'canary';
/** What a serving event records: a routed variant, or `shadow` (a mirrored copy whose answer no caller got). */
export type RecordedVariant = Variant | 'shadow';

/**
 * Width of a latency bucket: bucket `b` holds latencies in `[1.02^b, 1.02^(b+1))` ms, so a
 * bucket is 2 % wide at any latency and a window's histogram stays small at any traffic
 * (about 700 buckets span 1 ms to 1,000 s, and a window holds only the buckets it saw).
 */
export const LATENCY_BUCKET_BASE = 1.02;
/** Latencies below this (10 µs) share its bucket; 0 ms is a valid latency. */
export const LATENCY_BUCKET_FLOOR_MS = 0.01;
const { floor, log, max } = Math;
const LN_BASE = log(LATENCY_BUCKET_BASE);

/**
 * The log bucket of a latency: `floor(ln(max(ms, 0.01)) / ln(1.02))`. Serving computes it
 * with this function when it records a request, so every writer buckets alike.
 *
 * @example latencyBucket(40) // 186: [39.78, 40.57) ms
 */
export const latencyBucket = (ms: number): number => floor(log(max(ms, LATENCY_BUCKET_FLOOR_MS)) / LN_BASE);

/**
 * Latencies as `[bucket, count]` pairs ({@link latencyBucket}), in any order; a bucket may
 * repeat (counts add) and zero counts are allowed. This is the form serving sends.
 */
export type LatencyHistogram = [bucket: number, count: number][];

/** Everything the judge needs from one variant over one window. */
export interface VariantMetrics {
  /** Requests served in the window. */
  requests: number;
  /** Requests among them that failed (5xx, timeouts, model errors). */
  errors: number;
  /**
   * One end-to-end latency per (sampled) request, in milliseconds, in any order. Give this
   * or {@link latencyHistogram}.
   */
  latenciesMs?: number[];
  /**
   * The same latencies as a log-bucketed histogram. When either variant sends one, both are
   * judged on buckets (raw samples are bucketed first), so the two arms compare alike.
   */
  latencyHistogram?: LatencyHistogram;
  /**
   * Label feedback: of the `labelled` predictions whose ground truth arrived, `correct`
   * matched it. Absent when the model has no label feedback. The rollout judges quality
   * over the whole canary so far (labels arrive late), not over the stage's window.
   */
  quality?: { correct: number; labelled: number };
}
