/**
 * Percentiles of latency samples and of log-bucketed histograms (numpy's linear method), and
 * the histogram helpers the judge and the rank test share. Pure and deterministic; checked
 * against numpy with the statistics (`scripts/gen-judge-fixtures.py`).
 */
import { LATENCY_BUCKET_BASE, latencyBucket, type LatencyHistogram } from './canary-metrics.js';

/**
 * Percentile q ∈ [0, 1] of an ascending sample by linear interpolation between closest
 * ranks (Hyndman–Fan type 7, numpy's default); null for an empty sample.
 *
 * @example percentile(Float64Array.of(1, 2, 3, 4), 0.95) // ≈ 3.85
 */
export function percentile(sorted: ArrayLike<number>, q: number): number | null {
  if (sorted.length === 0) return null;
  const h = (sorted.length - 1) * q,
    lo = Math.floor(h),
    t = h - lo;
  return lerp(sorted[lo] as number, sorted[Math.min(lo + 1, sorted.length - 1)] as number, t);
}

// numpy's lerp form: interpolating from the nearer end keeps the result within [a, b].
const lerp = (a: number, b: number, t: number): number => (t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t);

// ---------------------------------------------------------------- histograms

/**
 * The value a bucket stands for: its geometric midpoint `base^(b + ½)`, within 1 % of every
 * latency the bucket holds.
 *
 * @example bucketValue(186) // ≈ 40.17 (bucket 186 holds [39.78, 40.57) ms)
 */
export const bucketValue = (bucket: number): number => LATENCY_BUCKET_BASE ** (bucket + 0.5);

/**
 * A histogram as sorted, merged `[bucket, count]` runs (zero counts dropped), the form the
 * rank test walks.
 */
export function sortedRuns(h: LatencyHistogram): [number, number][] {
  const merged = new Map<number, number>();
  for (const [b, c] of h) if (c > 0) merged.set(b, (merged.get(b) ?? 0) + c);
  return [...merged.entries()].sort((x, y) => x[0] - y[0]);
}

/**
 * Buckets raw latencies: the histogram serving sends instead of the samples.
 *
 * @example toHistogram([40, 40.1, 80]) // [[186, 2], [221, 1]]
 */
export function toHistogram(latenciesMs: readonly number[]): LatencyHistogram {
  const counts = new Map<number, number>();
  for (const v of latenciesMs) {
    const b = latencyBucket(v);
    counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  return [...counts.entries()].sort((x, y) => x[0] - y[0]);
}

/** Number of latencies a histogram holds. */
export const histogramCount = (h: LatencyHistogram): number => h.reduce((n, [, c]) => n + c, 0);

/**
 * Percentile q of a histogram: numpy's linear percentile of the sample in which every
 * latency is replaced by its bucket's value ({@link bucketValue}); so within about 1 % of
 * the raw sample's. Null when empty.
 */
export function histogramPercentile(runs: readonly (readonly [number, number])[], q: number): number | null {
  const n = runs.reduce((s, [, c]) => s + c, 0);
  if (n === 0) return null;
  const h = (n - 1) * q,
    lo = Math.floor(h),
    t = h - lo;
  const at = (rank: number): number => {
    let seen = 0;
    for (const [b, c] of runs) {
      seen += c;
      if (rank < seen) return bucketValue(b);
    }
    return bucketValue(runs[runs.length - 1]![0]);
  };
  return lerp(at(lo), at(Math.min(lo + 1, n - 1)), t);
}
