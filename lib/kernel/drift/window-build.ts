/** Building a window profile from rows in one pass, and merging profiles by addition (`window.ts`). */
import { binIndex, positiveClassOf, type BaselineProfile } from '../baseline-profile.js';
import {
  emptyWindow,
  numericCell,
  SCORE_BINS,
  WINDOW_FORMAT,
  MAX_UNSEEN,
  type Cell,
  type PerformanceCounts,
  type WindowProfile,
  type WindowRow,
} from './window.js';

const OVERFLOW = '…';
const isMissing = (v: Cell): boolean => v === null || v === undefined || v === '' || (typeof v === 'number' && Number.isNaN(v));

function tally(map: Record<string, number>, key: string, by = 1): void {
  if (map[key] !== undefined) map[key] += by;
  else if (Object.keys(map).length < MAX_UNSEEN || key === OVERFLOW) map[key] = by;
  else map[OVERFLOW] = (map[OVERFLOW] ?? 0) + by;
}

type Counter = (v: Cell) => void;

function featureCounter(baseline: BaselineProfile, window: WindowProfile, name: string): Counter {
  const f = baseline.features[name]!;
  const w = window.features[name]!;
  if (f.kind === 'numeric' && w.kind === 'numeric') {
    const { edges } = f;
    return (v) => {
      const x = numericCell(v);
      if (x === null) w.missing++;
      else if (x === undefined) w.invalid++;
      else w.counts[binIndex(edges, x)]!++;
    };
  }
  if (f.kind !== 'categorical' || w.kind !== 'categorical') throw new Error(`window feature ${name} does not match its baseline`);
  const index = new Map(f.categories.map((c, i) => [c, i]));
  const other = f.categories.length;
  return (v) => {
    if (isMissing(v)) return void w.counts[other + 1]!++;
    const key = String(v);
    const i = index.get(key);
    if (i !== undefined) return void w.counts[i]!++;
    w.counts[other]!++;
    tally(w.unseen, key);
  };
}

/** The numeric fast path of a column batch: NaN is missing, everything else is binned. */
function countFloats(values: Float64Array, rows: number, edges: readonly number[], w: { counts: number[]; missing: number }): void {
  const counts = w.counts;
  for (let i = 0; i < rows; i++) {
    const v = values[i]!;
    if (v !== v) w.missing++;
    else counts[binIndex(edges, v)]!++;
  }
}

const emptyPerformance = (): PerformanceCounts => ({
  labelled: 0,
  correct: 0,
  logLossSum: 0,
  scored: 0,
  positiveScores: new Array<number>(SCORE_BINS).fill(0),
  negativeScores: new Array<number>(SCORE_BINS).fill(0),
});

function countOutcome(baseline: BaselineProfile, window: WindowProfile, row: WindowRow): void {
  if (isMissing(row.label)) return;
  const truth = String(row.label);
  const hasPrediction = !isMissing(row.predicted);
  const hasScore = typeof row.score === 'number' && row.score >= 0 && row.score <= 1;
  if (!hasPrediction && !hasScore) return;
  const perf = (window.performance ??= emptyPerformance());
  if (hasPrediction) {
    perf.labelled++;
    if (String(row.predicted) === truth) perf.correct++;
  }
  const positive = positiveClassOf(baseline.predictions?.score);
  if (hasScore && positive !== undefined) {
    const p = row.score as number;
    const isPositive = truth === positive;
    const pTrue = Math.min(1 - 1e-15, Math.max(1e-15, isPositive ? p : 1 - p));
    perf.logLossSum -= Math.log(pTrue);
    perf.scored++;
    (isPositive ? perf.positiveScores : perf.negativeScores)[Math.min(SCORE_BINS - 1, Math.floor(p * SCORE_BINS))]!++;
  }
}

/**
 * A one-pass accumulator: `add` each row, then `profile()`. Features the baseline does not
 * know are ignored here (the caller reports unknown columns); a feature absent from a row is missing.
 */
export function windowAccumulator(baseline: BaselineProfile): {
  add(row: WindowRow): void;
  addColumns(batch: ColumnBatch): void;
  profile(): WindowProfile;
} {
  const window = emptyWindow(baseline);
  const counters = baseline.featureOrder.map((name) => [name, featureCounter(baseline, window, name)] as const);
  const labelIndex = new Map((baseline.label?.categories ?? []).map((c, i) => [c, i]));
  const predEdges = baseline.predictions?.edges;
  const addOutcomes = (row: WindowRow) => {
    if (window.label) {
      if (isMissing(row.label)) window.label.missing++;
      else {
        const i = labelIndex.get(String(row.label));
        if (i === undefined) tally(window.label.unseen, String(row.label));
        else window.label.counts[i]!++;
      }
    }
    if (window.predictions && predEdges) {
      if (typeof row.score === 'number' && Number.isFinite(row.score)) window.predictions.counts[binIndex(predEdges, row.score)]!++;
      else window.predictions.missing++;
    }
    countOutcome(baseline, window, row);
  };
  return {
    add(row) {
      window.rows++;
      for (const [name, count] of counters) count(row.features[name]);
      addOutcomes(row);
    },
    addColumns(batch) {
      window.rows += batch.rows;
      // one tight loop per feature: linear in features × rows, whatever the row count
      for (const [name, count] of counters) {
        const values = batch.features[name];
        const w = window.features[name]!;
        const f = baseline.features[name]!;
        if (values instanceof Float64Array && w.kind === 'numeric' && f.kind === 'numeric') countFloats(values, batch.rows, f.edges, w);
        else for (let i = 0; i < batch.rows; i++) count(values?.[i]);
      }
      const { label, predicted, score } = batch;
      if (label || predicted || score)
        for (let i = 0; i < batch.rows; i++)
          addOutcomes({ features: {}, label: label?.[i], predicted: predicted?.[i], score: score?.[i] ?? null });
    },
    profile: () => window,
  };
}

/** Rows given column by column (same length each; a feature absent from `features` is missing). */
export interface ColumnBatch {
  rows: number;
  features: Record<string, ArrayLike<Cell> | undefined>;
  label?: ArrayLike<Cell>;
  predicted?: ArrayLike<Cell>;
  score?: ArrayLike<number | null>;
}

const addInto = (a: number[], b: readonly number[], what: string): number[] => {
  if (a.length !== b.length) throw new RangeError(`cannot merge window profiles: ${what} has ${a.length} vs ${b.length} bins`);
  return a.map((v, i) => v + b[i]!);
};
const addMaps = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => {
  const out = Object.assign(Object.create(null) as Record<string, number>, a);
  for (const [k, v] of Object.entries(b)) tally(out, k, v);
  return out;
};

/** The sum of two window profiles of the same baseline (shards of one window). Commutative and associative up to the unseen-name cap. */
export function mergeWindows(a: WindowProfile, b: WindowProfile): WindowProfile {
  const features: WindowProfile['features'] = {};
  for (const [name, fa] of Object.entries(a.features)) {
    const fb = b.features[name];
    if (!fb || fb.kind !== fa.kind) throw new RangeError(`cannot merge window profiles: feature ${name} differs`);
    features[name] =
      fa.kind === 'numeric' && fb.kind === 'numeric'
        ? {
            kind: 'numeric',
            counts: addInto(fa.counts, fb.counts, name),
            missing: fa.missing + fb.missing,
            invalid: fa.invalid + fb.invalid,
          }
        : fa.kind === 'categorical' && fb.kind === 'categorical'
          ? { kind: 'categorical', counts: addInto(fa.counts, fb.counts, name), unseen: addMaps(fa.unseen, fb.unseen) }
          : (undefined as never);
  }
  const merged: WindowProfile = { format: WINDOW_FORMAT, rows: a.rows + b.rows, features };
  if (a.label && b.label)
    merged.label = {
      counts: addInto(a.label.counts, b.label.counts, 'label'),
      unseen: addMaps(a.label.unseen, b.label.unseen),
      missing: a.label.missing + b.label.missing,
    };
  if (a.predictions && b.predictions)
    merged.predictions = {
      counts: addInto(a.predictions.counts, b.predictions.counts, 'predictions'),
      missing: a.predictions.missing + b.predictions.missing,
    };
  const pa = a.performance;
  const pb = b.performance;
  if (pa || pb) {
    const x = pa ?? emptyPerformance();
    const y = pb ?? emptyPerformance();
    merged.performance = {
      labelled: x.labelled + y.labelled,
      correct: x.correct + y.correct,
      logLossSum: x.logLossSum + y.logLossSum,
      scored: x.scored + y.scored,
      positiveScores: addInto(x.positiveScores, y.positiveScores, 'positiveScores'),
      negativeScores: addInto(x.negativeScores, y.negativeScores, 'negativeScores'),
    };
  }
  return merged;
}
