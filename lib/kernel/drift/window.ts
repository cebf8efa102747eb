/**
 * `aegis.window-profile/v1`: a serving window counted into a baseline's bins, built from rows in
 * one pass (O(rows × features) time, O(features × bins) memory) and mergeable by addition, so
 * shards of a window can be profiled anywhere and summed in any order.
 *
 * Per numeric feature: `counts` on the baseline's bins (`edges.length + 1`, open tails),
 * `missing` (empty, null, NaN) and `invalid` (text that is not a number: a type mismatch).
 * Per categorical feature: `counts` aligned to the baseline's categories, then `__other__`
 * (every value the baseline does not name), then `__missing__`; `unseen` counts the values the
 * baseline does not name, by name (at most {@link MAX_UNSEEN} names, the rest under `…`).
 */
import type { BaselineProfile } from '../baseline-profile.js';

export const WINDOW_FORMAT = 'aegis.window-profile/v1';
/** Distinct unseen category names kept per feature; the rest are counted under `…`. */
export const MAX_UNSEEN = 1000;

export type WindowFeature =
  | { kind: 'numeric'; counts: number[]; missing: number; invalid: number }
  | { kind: 'categorical'; counts: number[]; unseen: Record<string, number> };

/** Labelled rows with predictions, as sums (binary AUC from score histograms by class). */
export interface PerformanceCounts {
  labelled: number;
  correct: number;
  /** Σ −ln p(true class), over rows with a score */
  logLossSum: number;
  scored: number;
  /** scores of positive / negative rows on 100 equal-width bins over [0, 1] */
  positiveScores: number[];
  negativeScores: number[];
}

export interface WindowProfile {
  format: typeof WINDOW_FORMAT;
  rows: number;
  features: Record<string, WindowFeature>;
  label?: { counts: number[]; unseen: Record<string, number>; missing: number };
  predictions?: { counts: number[]; missing: number };
  performance?: PerformanceCounts;
}

export type Cell = string | number | boolean | null | undefined;

/** One serving row: feature values, and when known the true label, the predicted label and the positive-class score. */
export interface WindowRow {
  features: Record<string, Cell>;
  label?: Cell;
  predicted?: Cell;
  score?: number | null;
}

export const SCORE_BINS = 100;
const NUMBER = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;
const isMissing = (v: Cell): boolean => v === null || v === undefined || v === '' || (typeof v === 'number' && Number.isNaN(v));

/** A number from a cell, `null` when missing, `undefined` when it is not a number (type mismatch). */
export function numericCell(v: Cell): number | null | undefined {
  if (isMissing(v)) return null;
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && NUMBER.test(v)) return Number(v);
  if (typeof v === 'string' && /^\s*(nan)\s*$/i.test(v)) return null;
  return undefined;
}

/** An empty window profile shaped by the baseline. */
export function emptyWindow(baseline: BaselineProfile): WindowProfile {
  const features: Record<string, WindowFeature> = {};
  for (const name of baseline.featureOrder) {
    const f = baseline.features[name]!;
    features[name] =
      f.kind === 'numeric'
        ? { kind: 'numeric', counts: new Array<number>(f.edges.length + 1).fill(0), missing: 0, invalid: 0 }
        : {
            kind: 'categorical',
            counts: new Array<number>(f.categories.length + 2).fill(0),
            unseen: Object.create(null) as Record<string, number>,
          };
  }
  return {
    format: WINDOW_FORMAT,
    rows: 0,
    features,
    ...(baseline.label
      ? { label: { counts: baseline.label.categories.map(() => 0), unseen: Object.create(null) as Record<string, number>, missing: 0 } }
      : {}),
    ...(baseline.predictions
      ? { predictions: { counts: new Array<number>(baseline.predictions.edges.length + 1).fill(0), missing: 0 } }
      : {}),
  };
}
