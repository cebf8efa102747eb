/**
 * Building a {@link BaselineProfile} (v2) from the training split: pure, no I/O, deterministic
 * (every sum runs in row order, every sort has an explicit order), finite numbers only. The
 * built-in trainer and `aegis baseline` both call {@link buildBaseline}.
 */
import {
  BASELINE_FORMAT_V2,
  binIndex,
  DEFAULT_BASELINE_BINS,
  DEFAULT_TOP_CATEGORIES,
  MISSING_CATEGORY,
  OTHER_CATEGORY,
  type BaselineProfile,
  type CategoricalFeatureProfile,
  type FeatureProfile,
  type NumericFeatureProfile,
} from './baseline-profile.js';
import { AegisError } from './errors.js';

/** The quantiles every numeric feature reports (Hyndman–Fan type 7, numpy's default). */
export const BASELINE_QUANTILES = { p01: 0.01, p05: 0.05, p25: 0.25, p50: 0.5, p75: 0.75, p95: 0.95, p99: 0.99 } as const;

/** A column of the training split: `null` (and, for categories, `''`) is missing. */
export type BaselineColumn =
  | { name: string; kind: 'numeric'; values: readonly (number | null)[] }
  | { name: string; kind: 'categorical'; values: readonly (string | null)[] };

export interface BaselineInput {
  /** the features, in the order the profile lists them; every column has one value per row */
  columns: readonly BaselineColumn[];
  /** the label of each training row (`null` or `''`: missing) */
  label?: { column: string; values: readonly (string | null)[] };
  /** holdout prediction scores, binned like a numeric feature */
  predictions?: { score: string; values: readonly number[] };
  holdoutMetrics?: Record<string, number>;
  /** feature → its model weights (one per class); importance is the largest |weight| */
  featureWeights?: Record<string, readonly number[]>;
  /** equal-frequency bins per numeric feature (default {@link DEFAULT_BASELINE_BINS}) */
  bins?: number;
  /** categories kept by name (default {@link DEFAULT_TOP_CATEGORIES}) */
  topCategories?: number;
}

/** Refusal of a baseline input, naming the column (and row) at fault. */
const invalid = (message: string, field: string): AegisError => new AegisError('VALIDATION_FAILED', message, { field });

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** -0 has no distinct canonical JSON form: normalise it. */
const z0 = (v: number): number => (v === 0 ? 0 : v);

/** Linear interpolation between closest ranks (Hyndman–Fan type 7) on ascending values. */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('quantile of no values');
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const a = sorted[lo]!;
  const b = sorted[Math.min(lo + 1, n - 1)]!;
  return a === b ? a : a + (h - lo) * (b - a);
}

/**
 * Equal-frequency edges of ascending values: the type-7 quantiles at i/bins for i = 0..bins,
 * tied edges dropped (so no inner bin is empty on the training data unless values tie).
 */
export function equalFrequencyEdges(sorted: ArrayLike<number>, bins: number = DEFAULT_BASELINE_BINS): number[] {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  const edges: number[] = [];
  for (let i = 0; i <= bins; i += 1) {
    const e = z0(quantileSorted(sorted, i / bins));
    if (edges.length === 0 || e > edges[edges.length - 1]!) edges.push(e);
  }
  return edges;
}

/** Counts of `values` in the bins of `edges` ({@link binIndex}): `edges.length + 1` counts. */
export function binCounts(edges: readonly number[], values: Iterable<number>): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) counts[binIndex(edges, v)]! += 1;
  return counts;
}

function finiteValues(name: string, values: readonly (number | null)[], field: string): Float64Array {
  const out = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw invalid(`${field} "${name}", row ${i + 1}: ${String(v)} is not a finite number`, name);
    out[n] = v;
    n += 1;
  }
  return out.subarray(0, n);
}

function numericProfile(name: string, values: readonly (number | null)[], bins: number): NumericFeatureProfile {
  const present = finiteValues(name, values, 'column');
  const n = present.length;
  if (n === 0) throw invalid(`column "${name}" has no values: a numeric feature needs at least one`, name);
  let sum = 0;
  for (let i = 0; i < n; i += 1) sum += present[i]!;
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i += 1) {
    const d = present[i]! - mean;
    ss += d * d;
  }
  const sorted = Float64Array.from(present).sort();
  const constant = sorted[0] === sorted[n - 1];
  const std = constant ? 0 : Math.sqrt(ss / n);
  if (!Number.isFinite(mean) || !Number.isFinite(std))
    throw invalid(`column "${name}": values too large for a finite mean and standard deviation`, name);
  const edges = equalFrequencyEdges(sorted, bins);
  return {
    kind: 'numeric',
    count: n,
    missing: values.length - n,
    mean: z0(constant ? sorted[0]! : mean),
    std: z0(std),
    min: z0(sorted[0]!),
    max: z0(sorted[n - 1]!),
    quantiles: Object.fromEntries(Object.entries(BASELINE_QUANTILES).map(([k, p]) => [k, z0(quantileSorted(sorted, p))])),
    edges,
    counts: binCounts(edges, sorted),
  };
}

/** Category counts, largest first, ties by name (code-unit order, not the locale's). */
function tally(values: readonly (string | null)[]): { ranked: [string, number][]; missing: number } {
  const counts = new Map<string, number>();
  let missing = 0;
  for (const v of values) {
    if (v === null || v === undefined || v === '') missing += 1;
    else counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || byName(a[0], b[0]));
  return { ranked, missing };
}

function categoricalProfile(values: readonly (string | null)[], top: number): CategoricalFeatureProfile {
  const { ranked, missing } = tally(values);
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

/** The label distribution: classes in code-unit order (pooled past `top`), `__missing__` only when some are. */
function labelProfile(label: NonNullable<BaselineInput['label']>, top: number): NonNullable<BaselineProfile['label']> {
  const { ranked, missing } = tally(label.values);
  const kept = ranked.slice(0, top).sort((a, b) => byName(a[0], b[0]));
  const other = ranked.slice(top).reduce((s, [, c]) => s + c, 0);
  const categories = kept.map(([c]) => c);
  const counts = kept.map(([, c]) => c);
  if (other > 0) [categories[categories.length], counts[counts.length]] = [OTHER_CATEGORY, other];
  if (missing > 0) [categories[categories.length], counts[counts.length]] = [MISSING_CATEGORY, missing];
  return { column: label.column, categories, counts };
}

/** Features by the largest |weight| over classes, largest first, ties by name. */
function rankFeatures(weights: Record<string, readonly number[]>, features: readonly string[]): string[] {
  const importance = Object.keys(weights)
    .sort(byName)
    .map((name) => {
      if (!features.includes(name)) throw invalid(`featureWeights names "${name}", which is not a feature`, `featureWeights.${name}`);
      const w = finiteValues(name, weights[name]!, 'weights of');
      return [name, w.reduce((m, x) => Math.max(m, Math.abs(x)), 0)] as const;
    });
  return importance.sort((a, b) => b[1] - a[1] || byName(a[0], b[0])).map(([name]) => name);
}

function checkShape(input: BaselineInput): number {
  const rows = input.columns[0]?.values.length ?? input.label?.values.length ?? 0;
  if (rows === 0) throw invalid('a baseline needs at least one row', 'rows');
  const names = new Set<string>();
  for (const c of input.columns) {
    if (names.has(c.name)) throw invalid(`column "${c.name}" is given twice`, c.name);
    names.add(c.name);
    if (c.values.length !== rows) throw invalid(`column "${c.name}" has ${c.values.length} values, not ${rows}`, c.name);
  }
  if (input.label && input.label.values.length !== rows)
    throw invalid(`label "${input.label.column}" has ${input.label.values.length} values, not ${rows}`, input.label.column);
  if (input.label && names.has(input.label.column)) throw invalid(`label "${input.label.column}" is also a feature`, input.label.column);
  return rows;
}

const METHODS = {
  std: 'population (divide by n)',
  quantiles: 'linear interpolation between closest ranks (Hyndman-Fan type 7)',
  edges:
    'equal-frequency: type-7 quantiles of the training split at i/B (i = 0..B), tied edges dropped; bins (-inf, e0), [e_i, e_i+1), last pair closed [e_n-2, e_n-1], (e_n-1, +inf)',
  categories: 'top categories by count (ties by code-unit order of the name), then __other__ (the rest) and __missing__ (empty)',
  label: 'label values in code-unit order (pooled into __other__ past the top categories), __missing__ when any',
  predictions: 'holdout scores binned by the edges rule',
  topFeatures: 'features by the largest |standardised weight| over classes, ties by name',
} as const;

/**
 * The v2 profile of a training split. Same inputs ⇒ same canonical JSON bytes.
 *
 * @throws AegisError VALIDATION_FAILED naming the column (and row) of a NaN/±Infinity, an empty
 *   numeric column, a ragged column, a duplicate name, or a non-finite metric or weight.
 * @example
 * buildBaseline({ columns: [{ name: 'x', kind: 'numeric', values: [1, 2, null] }] }).features.x // count 2, missing 1
 */
export function buildBaseline(input: BaselineInput): BaselineProfile {
  const rows = checkShape(input);
  const bins = input.bins ?? DEFAULT_BASELINE_BINS;
  const top = input.topCategories ?? DEFAULT_TOP_CATEGORIES;
  if (!Number.isInteger(top) || top < 1) throw invalid(`topCategories must be a positive integer, got ${top}`, 'topCategories');
  if (!Number.isInteger(bins) || bins < 1) throw invalid(`bins must be a positive integer, got ${bins}`, 'bins');
  const features: Record<string, FeatureProfile> = {};
  for (const c of input.columns)
    features[c.name] = c.kind === 'numeric' ? numericProfile(c.name, c.values, bins) : categoricalProfile(c.values, top);
  const featureOrder = input.columns.map((c) => c.name);
  const profile: BaselineProfile = { format: BASELINE_FORMAT_V2, rows, featureOrder, features, methods: { ...METHODS } };
  if (input.label) profile.label = labelProfile(input.label, top);
  if (input.predictions) {
    const p = numericProfile(input.predictions.score, input.predictions.values, bins);
    profile.predictions = { score: input.predictions.score, edges: p.edges, counts: p.counts };
  }
  if (input.holdoutMetrics) {
    const metrics = Object.keys(input.holdoutMetrics).sort(byName);
    for (const k of metrics)
      if (!Number.isFinite(input.holdoutMetrics[k]))
        throw invalid(`holdout metric "${k}" is ${input.holdoutMetrics[k]}, not a finite number`, `holdoutMetrics.${k}`);
    profile.holdoutMetrics = Object.fromEntries(metrics.map((k) => [k, z0(input.holdoutMetrics![k]!)]));
  }
  if (input.featureWeights) profile.topFeatures = rankFeatures(input.featureWeights, featureOrder);
  return profile;
}
