/**
 * Distribution distances and tests on two count vectors over the same bins (a baseline's and a
 * window's), plus the raw-sample Wasserstein distance. Pure; checked against scipy/numpy
 * (`scripts/gen-drift-fixtures.py`, `test/unit/drift-statistics.test.ts`).
 */
import { chiSquareSf } from './special.js';
import { ksAsymptoticSf } from './ks.js';

const sum = (c: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < c.length; i++) s += c[i]!;
  return s;
};

function sameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RangeError(`count vectors differ in length (${a.length} vs ${b.length})`);
}

/**
 * Jensen–Shannon distance, base 2 (in [0, 1]): √(½ KL(p‖m) + ½ KL(q‖m)) with m = (p+q)/2 and
 * p, q the normalised counts, as scipy's `jensenshannon(p, q, base=2)`. Finite on empty bins
 * (0·log 0 = 0), so no epsilon. 0 when either side is empty (nothing to compare).
 *
 * @example jsDistance([50, 50], [60, 40]) // ≈ 0.0852
 */
export function jsDistance(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  sameLength(reference, current);
  const n1 = sum(reference);
  const n2 = sum(current);
  if (n1 <= 0 || n2 <= 0) return 0;
  let js = 0;
  for (let i = 0; i < reference.length; i++) {
    const p = reference[i]! / n1;
    const q = current[i]! / n2;
    const m = (p + q) / 2;
    if (p > 0) js += p * Math.log(p / m);
    if (q > 0) js += q * Math.log(q / m);
  }
  return Math.sqrt(Math.max(0, js / 2 / Math.LN2));
}

/**
 * Population stability index Σ (qᵢ − pᵢ)·ln(qᵢ/pᵢ), natural log, with additive smoothing:
 * pᵢ = (cᵢ + 0.5)/(n + 0.5·B) for each side (B bins), so an empty bin gives a finite, stated
 * value rather than one that depends on an epsilon.
 *
 * @example psi([50, 50], [60, 40]) // ≈ 0.0401
 */
export function psi(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  sameLength(reference, current);
  const b = reference.length;
  const d1 = sum(reference) + 0.5 * b;
  const d2 = sum(current) + 0.5 * b;
  let s = 0;
  for (let i = 0; i < b; i++) {
    const p = (reference[i]! + 0.5) / d1;
    const q = (current[i]! + 0.5) / d2;
    s += (q - p) * Math.log(q / p);
  }
  return s;
}

/**
 * Wasserstein-1 distance between two weighted point sets on the same ascending positions:
 * Σᵢ |F₁(i) − F₂(i)|·(xᵢ₊₁ − xᵢ), as scipy's `wasserstein_distance(x, x, u_weights, v_weights)`.
 */
export function wassersteinBinned(positions: readonly number[], reference: ArrayLike<number>, current: ArrayLike<number>): number {
  sameLength(reference, current);
  if (positions.length !== reference.length) throw new RangeError('one position per bin is needed');
  const n1 = sum(reference);
  const n2 = sum(current);
  if (n1 <= 0 || n2 <= 0) return 0;
  let c1 = 0;
  let c2 = 0;
  let w = 0;
  for (let i = 0; i < positions.length - 1; i++) {
    c1 += reference[i]!;
    c2 += current[i]!;
    w += Math.abs(c1 / n1 - c2 / n2) * (positions[i + 1]! - positions[i]!);
  }
  return w;
}

/**
 * Exact Wasserstein-1 distance of two raw samples, each sorted ascending: ∫|F₁ − F₂| by one
 * merge of the two samples, as scipy's `wasserstein_distance(x, y)`.
 */
export function wassersteinSorted(x: Float64Array, y: Float64Array): number {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) return 0;
  let i = 0;
  let j = 0;
  let w = 0;
  let prev = Math.min(x[0]!, y[0]!);
  while (i < n1 || j < n2) {
    const v = Math.min(i < n1 ? x[i]! : Infinity, j < n2 ? y[j]! : Infinity);
    w += Math.abs(i / n1 - j / n2) * (v - prev);
    prev = v;
    while (i < n1 && x[i] === v) i++;
    while (j < n2 && y[j] === v) j++;
  }
  return w;
}

/**
 * KS distance between two binned distributions (the largest CDF gap at a bin boundary) with
 * the asymptotic two-sample p-value. A lower bound of the raw D; reported, never gated.
 */
export function binnedKs(reference: ArrayLike<number>, current: ArrayLike<number>): { statistic: number; pValue: number } {
  sameLength(reference, current);
  const n1 = sum(reference);
  const n2 = sum(current);
  if (n1 <= 0 || n2 <= 0) return { statistic: 0, pValue: 1 };
  let c1 = 0;
  let c2 = 0;
  let d = 0;
  for (let i = 0; i < reference.length; i++) {
    c1 += reference[i]!;
    c2 += current[i]!;
    d = Math.max(d, Math.abs(c1 / n1 - c2 / n2));
  }
  return { statistic: d, pValue: ksAsymptoticSf(d, n1, n2) };
}

export interface ChiSquareResult {
  statistic: number;
  df: number;
  pValue: number;
  /** the columns tested, after pooling (names from `labels`, the pool named `__other__`) */
  columns: string[];
}

/**
 * Pooling for the chi-square test: a column whose expected count is below 5 in either row
 * joins one pooled column (named `__other__`, which also takes an existing `__other__`
 * column); when the pool itself is still below 5 it joins the smallest remaining column.
 * Returns the pooled 2×k table.
 */
export function poolSparse(labels: readonly string[], reference: ArrayLike<number>, current: ArrayLike<number>, pool = '__other__') {
  const n1 = sum(reference);
  const n2 = sum(current);
  const total = n1 + n2;
  const minRow = Math.min(n1, n2);
  const kept: { name: string; a: number; b: number }[] = [];
  const pooled = { name: pool, a: 0, b: 0 };
  let anyPooled = false;
  for (let i = 0; i < labels.length; i++) {
    const a = reference[i]!;
    const b = current[i]!;
    const sparse = ((a + b) * minRow) / total < 5;
    if (sparse || labels[i] === pool) {
      pooled.a += a;
      pooled.b += b;
      anyPooled = true;
    } else kept.push({ name: labels[i]!, a, b });
  }
  if (anyPooled && pooled.a + pooled.b > 0) {
    if (((pooled.a + pooled.b) * minRow) / total >= 5 || kept.length === 0) kept.push(pooled);
    else {
      const smallest = kept.reduce((s, c) => (c.a + c.b < s.a + s.b ? c : s));
      smallest.a += pooled.a;
      smallest.b += pooled.b;
      smallest.name = `${smallest.name}+${pool}`;
    }
  }
  return kept;
}

/**
 * Pearson's chi-square test of homogeneity on the 2×k table of two count vectors, after
 * {@link poolSparse}; no continuity correction, as scipy's `chi2_contingency(t, correction=False)`.
 * Fewer than two columns left (or an empty side): nothing to test, statistic 0, p = 1.
 */
export function chiSquareHomogeneity(labels: readonly string[], reference: ArrayLike<number>, current: ArrayLike<number>): ChiSquareResult {
  sameLength(reference, current);
  const cols = poolSparse(labels, reference, current);
  const n1 = sum(reference);
  const n2 = sum(current);
  const total = n1 + n2;
  if (cols.length < 2 || n1 === 0 || n2 === 0) return { statistic: 0, df: 0, pValue: 1, columns: cols.map((c) => c.name) };
  let statistic = 0;
  for (const c of cols) {
    const t = c.a + c.b;
    const e1 = (t * n1) / total;
    const e2 = (t * n2) / total;
    statistic += (c.a - e1) ** 2 / e1 + (c.b - e2) ** 2 / e2;
  }
  const df = cols.length - 1;
  return { statistic, df, pValue: chiSquareSf(statistic, df), columns: cols.map((c) => c.name) };
}
