/**
 * The two-sample Kolmogorov–Smirnov test on raw samples, as scipy's
 * `ks_2samp(x, y, alternative='two-sided', method='auto')`: the statistic D = sup|F₁ − F₂| over
 * the pooled values (ties handled by evaluating both ECDFs after every tied value); the p-value
 * exact when max(n₁, n₂) ≤ 10 000, else asymptotic `kstwo.sf(D, round(n₁n₂/(n₁+n₂)))`.
 */
import { kolmogorovSf } from './kolmogorov.js';

/** Above this sample size (of the larger sample) the p-value is asymptotic, as scipy's 'auto'. */
export const KS_EXACT_MAX_N = 10_000;

export interface KsResult {
  statistic: number;
  pValue: number;
  method: 'exact' | 'asymptotic';
  n1: number;
  n2: number;
}

const gcd = (a: number, b: number): number => {
  while (b) [a, b] = [b, a % b];
  return a;
};

/** D = max |F₁(v) − F₂(v)| over the values of both samples, each sorted ascending. */
export function ksStatisticSorted(x: Float64Array, y: Float64Array): number {
  const n1 = x.length;
  const n2 = y.length;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n1 || j < n2) {
    const v = Math.min(i < n1 ? x[i]! : Infinity, j < n2 ? y[j]! : Infinity);
    while (i < n1 && x[i] === v) i++;
    while (j < n2 && y[j] === v) j++;
    const diff = Math.abs(i / n1 - j / n2);
    if (diff > d) d = diff;
  }
  return d;
}

/**
 * P(D ≥ h/lcm) exactly: the share of the C(m+n, n) lattice paths from (0,0) to (m,n) that
 * leave the band |i/m − j/n| < h/lcm. Each cell holds the share of the paths reaching it that
 * have already left (1 outside the band), i.e. the recursion of Hodges (1958) computed as
 * 1 − p throughout, as Viehmann (arXiv:2102.08037) recommends for numerical stability.
 */
export function ksExactSf(n1: number, n2: number, h: number): number {
  const [m, n] = n1 >= n2 ? [n1, n2] : [n2, n1];
  const g = gcd(m, n);
  const mg = m / g;
  const ng = n / g;
  const col = new Float64Array(n + 1).fill(1);
  // column i = 0: (0, j) is inside iff j·mg < h
  for (let j = 0; j <= n && j * mg < h; j++) col[j] = 0;
  for (let i = 1; i <= m; i++) {
    const lo = Math.min(n, Math.max(0, Math.floor((ng * i - h) / mg) + 1));
    const hi = Math.min(n + 1, Math.ceil((ng * i + h) / mg)); // exclusive
    if (hi <= lo) return 1;
    let below = lo === 0 ? 0 : 1; // the cell under the band is outside it
    for (let j = lo; j < hi; j++) {
      below = (col[j]! * i + below * j) / (i + j);
      col[j] = below;
    }
    if (lo > 0) col[lo - 1] = 1;
  }
  return col[n]!;
}

/**
 * Two-sided two-sample KS test, as scipy's `ks_2samp(method='auto')`.
 *
 * @example ks2samp([1, 2, 3, 4], [5, 6, 7, 8]) // { statistic: 1, pValue: 0.02857…, method: 'exact' }
 */
export function ks2samp(x: ArrayLike<number>, y: ArrayLike<number>): KsResult {
  return ks2sampSorted(Float64Array.from(x).sort(), Float64Array.from(y).sort());
}

/** {@link ks2samp} on samples already sorted ascending. */
export function ks2sampSorted(x: Float64Array, y: Float64Array): KsResult {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('ks2samp needs two non-empty samples');
  const d = ksStatisticSorted(x, y);
  if (Math.max(n1, n2) <= KS_EXACT_MAX_N) {
    const lcm = (n1 / gcd(n1, n2)) * n2;
    const h = Math.round(d * lcm);
    const statistic = h / lcm;
    const pValue = h === 0 ? 1 : Math.min(1, Math.max(0, ksExactSf(n1, n2, h)));
    return { statistic, pValue, method: 'exact', n1, n2 };
  }
  return { statistic: d, pValue: ksAsymptoticSf(d, n1, n2), method: 'asymptotic', n1, n2 };
}

/** Round half to even, as numpy's `np.round` (scipy rounds the effective sample size so). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The asymptotic two-sample p-value scipy uses: kstwo.sf(D, np.round(n₁n₂/(n₁+n₂))). */
export const ksAsymptoticSf = (d: number, n1: number, n2: number): number =>
  kolmogorovSf(Math.max(1, roundHalfEven((n1 * n2) / (n1 + n2))), d);
