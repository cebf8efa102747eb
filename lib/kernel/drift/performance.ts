/**
 * Performance regression on labelled rows against the holdout metrics, with the canary
 * judge's rule: a regression only when the window's accuracy is below the holdout's by more
 * than the tolerance (absolute; the judge's rollbackThreshold is relative) AND the difference is
 * significant (one-sided, alpha 0.01 by default). AUC (binary, from score
 * histograms) and log loss are reported, never gating. Without labels: `no-labels`.
 */
import { rateGreater } from '../canary-judge.js';
import { normalSf } from '../canary-statistics.js';
import type { PerformanceReport } from './report.js';
import type { PerformanceCounts } from './window.js';

export interface PerformanceInput {
  counts: PerformanceCounts | undefined;
  /** the baseline's holdout metrics: `accuracy`, and when known `rows` (holdout size), `auc`, `logLoss` */
  holdout: Record<string, number> | undefined;
  minLabelled: number;
  tolerance: number;
  alpha: number;
}

/** AUC from two score histograms on the same bins (a tie within a bin counts one half). */
export function binnedAuc(positive: readonly number[], negative: readonly number[]): number | undefined {
  const p = positive.reduce((s, c) => s + c, 0);
  const n = negative.reduce((s, c) => s + c, 0);
  if (p === 0 || n === 0) return undefined;
  let below = 0;
  let wins = 0;
  for (let b = 0; b < positive.length; b++) {
    wins += positive[b]! * (below + negative[b]! / 2);
    below += negative[b]!;
  }
  return wins / (p * n);
}

const holdoutSize = (h: Record<string, number>): number | undefined => {
  const n = h.rows ?? h.holdoutRows;
  return n !== undefined && Number.isInteger(n) && n > 0 ? n : undefined;
};

/**
 * Is the window wrong more often than the holdout? As the judge tests quality: its `rateGreater`
 * on the incorrect fractions (Fisher's exact test while an expected cell is below 5, else the
 * pooled z-test). Without the holdout's size, a one-sample z-test against its accuracy.
 */
function accuracyTest(
  correct: number,
  labelled: number,
  holdAcc: number,
  holdRows: number | undefined,
): { z: number | null; pValue: number } {
  if (holdRows !== undefined) {
    const holdWrong = holdRows - Math.round(holdAcc * holdRows);
    const { z, pValue } = rateGreater(labelled - correct, labelled, holdWrong, holdRows);
    return { z, pValue };
  }
  const se = Math.sqrt((holdAcc * (1 - holdAcc)) / labelled);
  if (!(se > 0)) return { z: 0, pValue: 1 };
  const z = (holdAcc - correct / labelled) / se;
  return { z, pValue: normalSf(z) };
}

export function performanceDrift(input: PerformanceInput): PerformanceReport {
  const c = input.counts;
  const base = { tolerance: input.tolerance, regression: false };
  if (!c || (c.labelled === 0 && c.scored === 0)) return { status: 'no-labels', labelled: 0, ...base };
  const report: PerformanceReport = { status: 'ok', labelled: c.labelled, ...base };
  if (c.labelled > 0) report.accuracy = c.correct / c.labelled;
  const auc = binnedAuc(c.positiveScores, c.negativeScores);
  if (auc !== undefined) report.auc = auc;
  if (c.scored > 0) report.logLoss = c.logLossSum / c.scored;
  const h = input.holdout;
  if (h?.auc !== undefined) report.holdoutAuc = h.auc;
  if (h?.logLoss !== undefined) report.holdoutLogLoss = h.logLoss;
  if (c.labelled < input.minLabelled) return { ...report, status: 'insufficient-labels' };
  if (h?.accuracy === undefined) return { ...report, status: 'no-holdout' };
  report.holdoutAccuracy = h.accuracy;
  const { z, pValue } = accuracyTest(c.correct, c.labelled, h.accuracy, holdoutSize(h));
  if (z !== null) report.z = z;
  report.pValue = pValue;
  report.regression = h.accuracy - report.accuracy! > input.tolerance && pValue < input.alpha;
  return report;
}
