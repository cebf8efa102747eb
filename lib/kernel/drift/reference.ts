/**
 * A baseline profile (v2 shape) built from reference columns in memory — what `aegis drift
 * compare` uses when no baseline file is given, and what the simulation tests use. Same rules as
 * the v2 format: equal-frequency edges at the k/B quantiles (Hyndman–Fan type 7, k = 0…B,
 * ties deduplicated) with open tails; the top categories by count (ties by name), then
 * `__other__` and `__missing__`.
 */
import {
  BASELINE_FORMAT_V2,
  binIndex,
  DEFAULT_BASELINE_BINS,
  DEFAULT_TOP_CATEGORIES,
  type BaselineProfile,
  type CategoricalFeatureProfile,
  type NumericFeatureProfile,
} from '../baseline-profile.js';

export type ReferenceColumn =
  { name: string; kind: 'numeric'; values: Float64Array } | { name: string; kind: 'categorical'; values: readonly (string | null)[] };

const QUANTILES: Record<string, number> = { p01: 0.01, p05: 0.05, p25: 0.25, p50: 0.5, p75: 0.75, p95: 0.95, p99: 0.99 };

/** Type-7 quantile of an ascending sample. */
export function quantileSorted(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** A numeric feature's profile: missing values are NaN in `values`. */
export function numericProfile(values: Float64Array, bins = DEFAULT_BASELINE_BINS): NumericFeatureProfile {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort();
  const n = sorted.length;
  if (n === 0) throw new RangeError('a numeric feature needs at least one value');
  let mean = 0;
  for (const v of sorted) mean += v;
  mean /= n;
  let ss = 0;
  for (const v of sorted) ss += (v - mean) ** 2;
  const edges: number[] = [];
  for (let k = 0; k <= bins; k++) {
    const e = quantileSorted(sorted, k / bins);
    if (edges.length === 0 || e > edges[edges.length - 1]!) edges.push(e);
  }
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of sorted) counts[binIndex(edges, v)]!++;
  return {
    kind: 'numeric',
    count: n,
    missing: values.length - n,
    mean,
    std: sorted[0] === sorted[n - 1] ? 0 : Math.sqrt(ss / n),
    min: sorted[0]!,
    max: sorted[n - 1]!,
    quantiles: Object.fromEntries(Object.entries(QUANTILES).map(([k, p]) => [k, quantileSorted(sorted, p)])),
    edges,
    counts,
  };
}

/** A categorical feature's profile: `null` (or '') is missing. */
export function categoricalProfile(values: readonly (string | null)[], top = DEFAULT_TOP_CATEGORIES): CategoricalFeatureProfile {
  const counts = new Map<string, number>();
  let missing = 0;
  for (const v of values) {
    if (v === null || v === '') missing++;
    else counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const ranked = [...counts].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
  const kept = ranked.slice(0, top);
  const other = ranked.slice(top).reduce((s, [, c]) => s + c, 0);
  return {
    kind: 'categorical',
    count: values.length - missing,
    missing,
    categories: kept.map(([c]) => c),
    counts: [...kept.map(([, c]) => c), other, missing],
  };
}

/** A whole profile from reference columns; `label` (its values as strings) becomes the label distribution. */
export function profileColumns(
  columns: readonly ReferenceColumn[],
  label?: { column: string; values: readonly (string | null)[] },
): BaselineProfile {
  const features: BaselineProfile['features'] = {};
  for (const c of columns) features[c.name] = c.kind === 'numeric' ? numericProfile(c.values) : categoricalProfile(c.values);
  const profile: BaselineProfile = {
    format: BASELINE_FORMAT_V2,
    rows: columns[0]?.values.length ?? label?.values.length ?? 0,
    featureOrder: columns.map((c) => c.name),
    features,
    methods: {
      edges: `equal-frequency: the k/${DEFAULT_BASELINE_BINS} quantiles (type 7), ties deduplicated, open tails`,
      categories: `top ${DEFAULT_TOP_CATEGORIES} by count (ties by name), then __other__, __missing__`,
      std: 'population (divide by n)',
    },
  };
  if (label) {
    const l = categoricalProfile(label.values, Number.MAX_SAFE_INTEGER);
    profile.label = { column: label.column, categories: l.categories, counts: l.counts.slice(0, l.categories.length) };
  }
  return profile;
}
