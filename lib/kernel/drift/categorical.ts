/** The categorical feature detector: JS distance on the categories gates; chi-square, unseen categories and the missing rate are reported. */
import { OTHER_CATEGORY, type CategoricalFeatureProfile } from '../baseline-profile.js';
import type { CategoricalReport, UnseenCategory } from './report.js';
import { chiSquareHomogeneity, jsDistance } from './statistics.js';

/** Unseen categories listed by name in a report (largest first); the share counts them all. */
export const MAX_UNSEEN_REPORTED = 20;

export interface CategoricalInput {
  feature: string;
  reference: CategoricalFeatureProfile;
  /** categories…, `__other__` (unseen values included), `__missing__` */
  current: { counts: readonly number[]; unseen: Record<string, number> };
  threshold: number;
  missingRateChange: number;
}

/** Values the baseline does not name, largest first (ties by name), each with its share of the non-missing rows. */
export function unseenList(unseen: Record<string, number>, rows: number): UnseenCategory[] {
  return Object.entries(unseen)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, MAX_UNSEEN_REPORTED)
    .map(([category, count]) => ({ category, count, share: rows > 0 ? count / rows : 0 }));
}

/**
 * JS distance and the chi-square homogeneity test over the named categories plus `__other__`
 * (an unseen value counts in `__other__`; missing values are left out and judged by the
 * missing-rate change instead).
 */
export function categoricalDrift(input: CategoricalInput): CategoricalReport {
  const { reference: ref, current: cur, threshold } = input;
  const k = ref.categories.length;
  if (cur.counts.length !== k + 2)
    throw new RangeError(`${input.feature}: the window has ${cur.counts.length} categories, the baseline ${k + 2}`);
  const refCounts = ref.counts.slice(0, k + 1);
  const curCounts = cur.counts.slice(0, k + 1);
  const rows = curCounts.reduce((s, c) => s + c, 0);
  const missing = cur.counts[k + 1]!;
  const refRows = refCounts.reduce((s, c) => s + c, 0);
  const js = jsDistance(refCounts, curCounts);
  const missingRate = {
    reference: refRows + ref.counts[k + 1]! > 0 ? ref.counts[k + 1]! / (refRows + ref.counts[k + 1]!) : 0,
    current: rows + missing > 0 ? missing / (rows + missing) : 0,
  };
  const unseenTotal = Object.values(cur.unseen).reduce((s, c) => s + c, 0);
  const reasons: string[] = [];
  if (rows > 0 && js >= threshold) reasons.push('js');
  if (Math.abs(missingRate.current - missingRate.reference) >= input.missingRateChange) reasons.push('missing-rate');
  return {
    feature: input.feature,
    kind: 'categorical',
    rows,
    js,
    threshold,
    chiSquare: chiSquareHomogeneity([...ref.categories, OTHER_CATEGORY], refCounts, curCounts),
    unseen: unseenList(cur.unseen, rows),
    unseenShare: rows > 0 ? unseenTotal / rows : 0,
    missingRate,
    drift: reasons.length > 0,
    reasons,
  };
}
