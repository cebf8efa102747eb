/**
 * The drift baseline profile (`baseline.json` of an artifact): what the training split looked
 * like, binned, so a serving window is compared by counting its values into the same bins
 * (windows are counts: shards add). Version 2 is written by the built-in trainer and by
 * `aegis baseline`; version 1 files (10 equal-width bins over [min, max]) stay readable as v2
 * with empty tail bins. A manifest may pin the file by `baselineSha256`.
 */

export const BASELINE_FORMAT_V1 = 'aegis.baseline/v1';
export const BASELINE_FORMAT_V2 = 'aegis.baseline/v2';

/** Equal-frequency bins of a numeric feature from the training split (20 by default). */
export const DEFAULT_BASELINE_BINS = 20;
/** Categories of a categorical feature kept by name (the rest pool into `__other__`). */
export const DEFAULT_TOP_CATEGORIES = 50;
export const OTHER_CATEGORY = '__other__';
export const MISSING_CATEGORY = '__missing__';

/**
 * A numeric feature: `edges` ascending, distinct (tied quantiles deduplicated); the bins are
 * half-open, the lower tail `(-∞, e0)`, then `[e_i, e_i+1)` for each pair, and the upper tail
 * `[e_n-1, +∞)` (it holds the training maximum, so a feature of few values such as 0/1 keeps
 * each value in a bin of its own): `counts.length === edges.length + 1` ({@link binIndex}).
 * Missing values (empty, NaN) are counted apart, never binned.
 */
export interface NumericFeatureProfile {
  kind: 'numeric';
  /** non-missing values */
  count: number;
  missing: number;
  mean: number;
  /** population standard deviation (divide by n); 0 for a constant feature */
  std: number;
  min: number;
  max: number;
  /** p01, p05, p25, p50, p75, p95, p99 (Hyndman–Fan type 7) */
  quantiles: Record<string, number>;
  edges: number[];
  counts: number[];
}

/**
 * A categorical feature: the top categories by count (ties by name), then `__other__` (the
 * rest) and `__missing__`: `counts.length === categories.length + 2`, in that order.
 */
export interface CategoricalFeatureProfile {
  kind: 'categorical';
  count: number;
  missing: number;
  categories: string[];
  counts: number[];
}

export type FeatureProfile = NumericFeatureProfile | CategoricalFeatureProfile;

export interface BaselineProfile {
  format: typeof BASELINE_FORMAT_V2;
  /** training rows profiled */
  rows: number;
  featureOrder: string[];
  features: Record<string, FeatureProfile>;
  /** the label column's distribution on the training split (absent: no label) */
  label?: { column: string; categories: string[]; counts: number[] };
  /**
   * holdout prediction scores (the positive class's probability, or the top class's for more
   * than two classes), binned like a numeric feature; absent when the trainer had no holdout
   */
  predictions?: { score: string; edges: number[]; counts: number[] };
  /** the holdout metrics (accuracy, auc, logLoss, …) the performance detector compares with */
  holdoutMetrics?: Record<string, number>;
  /** features by importance (|standardised weight|, largest first), when the trainer knows them */
  topFeatures?: string[];
  /** how each number was computed, in words */
  methods: Record<string, string>;
}

/**
 * The bin of `v` among `edges` ({@link NumericFeatureProfile}): how many edges are at or
 * below it, so 0 below the first edge, `edges.length` at or above the last.
 *
 * @example binIndex([0, 1, 2], -1) // 0
 * @example binIndex([0, 1, 2], 0) // 1
 * @example binIndex([0, 1, 2], 1.5) // 2
 * @example binIndex([0, 1, 2], 2) // 3
 */
export function binIndex(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
