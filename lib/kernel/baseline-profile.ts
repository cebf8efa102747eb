/**
 * The drift baseline profile (`baseline.json` of an artifact): what the training split looked
 * like, binned, so a serving window is compared by counting its values into the same bins
 * (windows are counts: shards add). Version 2 is written by the built-in trainer and by
 * `aegis baseline`; version 1 files (10 equal-width bins over [min, max]) stay readable as v2
 * with empty tail bins. A manifest may pin the file by `baselineSha256`.
 */

import { z } from 'zod';

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

// ---------------------------------------------------------------- reading (v2, and v1 as v2)

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const count = z.number().int().nonnegative();
const numericV2 = z.strictObject({
  kind: z.literal('numeric'),
  count,
  missing: count,
  mean: finite,
  std: finite.refine((v) => v >= 0, 'must be ≥ 0'),
  min: finite,
  max: finite,
  quantiles: z.record(z.string(), finite),
  edges: z.array(finite).min(1),
  counts: z.array(count),
});
const categoricalV2 = z.strictObject({
  kind: z.literal('categorical'),
  count,
  missing: count,
  categories: z.array(z.string()),
  counts: z.array(count),
});
const v2 = z.strictObject({
  format: z.literal(BASELINE_FORMAT_V2),
  rows: count,
  featureOrder: z.array(z.string()),
  features: z.record(z.string(), z.discriminatedUnion('kind', [numericV2, categoricalV2])),
  label: z.strictObject({ column: z.string().min(1), categories: z.array(z.string()), counts: z.array(count) }).optional(),
  predictions: z.strictObject({ score: z.string(), edges: z.array(finite).min(1), counts: z.array(count) }).optional(),
  holdoutMetrics: z.record(z.string(), finite).optional(),
  topFeatures: z.array(z.string()).optional(),
  methods: z.record(z.string(), z.string()),
});
const v1 = z.object({
  format: z.literal(BASELINE_FORMAT_V1),
  rows: count,
  featureOrder: z.array(z.string()),
  methods: z.record(z.string(), z.string()).optional(),
  features: z.record(
    z.string(),
    z.object({
      count,
      mean: finite,
      std: finite,
      min: finite,
      max: finite,
      quantiles: z.record(z.string(), finite),
      histogram: z.object({ edges: z.array(finite).min(1), counts: z.array(count) }),
    }),
  ),
  labels: z.record(z.string(), z.object({ count })).optional(),
});

/** A baseline file that cannot be read; `field` names the bad field as a JSON path (`features.x.edges`). */
export class BaselineFormatError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

const bad = (field: string, why: string): never => {
  throw new BaselineFormatError(`baseline ${field} ${why}`, field);
};

function parseWith<T>(schema: z.ZodType<T>, json: unknown): T {
  const r = schema.safeParse(json);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.map(String).join('.') || '(root)';
  return bad(field, issue.message);
}

function checkShapes(p: BaselineProfile): BaselineProfile {
  for (const name of p.featureOrder) if (!p.features[name]) bad(`featureOrder`, `names ${JSON.stringify(name)}, which has no profile`);
  for (const [name, f] of Object.entries(p.features)) {
    if (f.kind === 'numeric') {
      if (f.counts.length !== f.edges.length + 1)
        bad(`features.${name}.counts`, `must have edges.length + 1 = ${f.edges.length + 1} entries`);
      for (let i = 1; i < f.edges.length; i++)
        if (!(f.edges[i]! > f.edges[i - 1]!)) bad(`features.${name}.edges`, 'must be strictly ascending');
    } else if (f.counts.length !== f.categories.length + 2)
      bad(`features.${name}.counts`, `must have categories.length + 2 = ${f.categories.length + 2} entries (…, __other__, __missing__)`);
  }
  if (p.label && p.label.counts.length !== p.label.categories.length) bad('label.counts', 'must have one entry per category');
  if (p.predictions) {
    const { edges, counts } = p.predictions;
    if (counts.length !== edges.length + 1) bad('predictions.counts', `must have edges.length + 1 = ${edges.length + 1} entries`);
    for (let i = 1; i < edges.length; i++) if (!(edges[i]! > edges[i - 1]!)) bad('predictions.edges', 'must be strictly ascending');
  }
  return p;
}

/** A v1 profile as v2: its 10 equal-width bins keep their edges, with empty open tails added. */
function fromV1(p: z.infer<typeof v1>): BaselineProfile {
  const features: Record<string, FeatureProfile> = {};
  for (const [name, f] of Object.entries(p.features)) {
    if (f.histogram.counts.length !== f.histogram.edges.length - 1)
      bad(`features.${name}.histogram.counts`, 'must have edges.length − 1 entries');
    const { histogram, ...rest } = f;
    features[name] = {
      kind: 'numeric',
      ...rest,
      std: Math.max(0, f.std),
      missing: 0,
      edges: histogram.edges,
      counts: [0, ...histogram.counts, 0],
    };
  }
  const labels = Object.entries(p.labels ?? {});
  return {
    format: BASELINE_FORMAT_V2,
    rows: p.rows,
    featureOrder: p.featureOrder,
    features,
    ...(labels.length ? { label: { column: 'label', categories: labels.map(([c]) => c), counts: labels.map(([, v]) => v.count) } } : {}),
    methods: { ...p.methods, converted: 'read from aegis.baseline/v1: equal-width bins with empty open tails added' },
  };
}

/**
 * Reads a baseline profile (parsed JSON): v2 as written, v1 converted to v2 (empty tail bins
 * around its equal-width histogram, the label column assumed `label`). Throws
 * {@link BaselineFormatError} naming the first bad field.
 */
export function readBaseline(json: unknown): BaselineProfile {
  const format = (json as { format?: unknown } | null)?.format;
  if (format === BASELINE_FORMAT_V1) return checkShapes(fromV1(parseWith(v1, json)));
  if (format !== BASELINE_FORMAT_V2)
    return bad('format', `must be ${BASELINE_FORMAT_V2} or ${BASELINE_FORMAT_V1}, got ${JSON.stringify(format)}`);
  return checkShapes(parseWith(v2, json) as BaselineProfile);
}

/**
 * The class a baseline's prediction score is the probability of: `p(<class>)` (the built-in
 * trainer's binary score) names it; `max(p)` (the top class of a multi-class model) is no one
 * class's; any other name is taken as the class itself.
 *
 * @example positiveClassOf('p(1)') // '1'
 * @example positiveClassOf('max(p)') // undefined
 */
export function positiveClassOf(score: string | undefined): string | undefined {
  if (score === undefined || score === 'max(p)') return undefined;
  return /^p\((.*)\)$/.exec(score)?.[1] ?? score;
}
