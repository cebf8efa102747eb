/**
 * The statistics the canary judge runs, pure and deterministic: the normal distribution,
 * Mann–Whitney U (raw samples and log-bucketed histograms), the two-proportion z-test,
 * Fisher's exact test, the exact binomial tail and the sample-ratio chi-square test; the
 * percentiles and histogram helpers are `canary-percentiles.ts`. Each is checked against
 * scipy (`scripts/gen-judge-fixtures.py`).
 */
import type { LatencyHistogram } from './canary-metrics.js';
import { sortedRuns } from './canary-percentiles.js';

// W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23
// (1969), as in SPECFUN CALERF (ACM TOMS 715). Coefficients are listed in Horner order, as
// published (more digits than binary64 holds: each literal rounds to the nearest double).
/* eslint-disable no-loss-of-precision */
const ERF_NUM = [1.85777706184603153e-1, 3.1611237438705656, 1.13864154151050156e2, 3.77485237685302021e2, 3.20937758913846947e3];
const ERF_DEN = [1, 2.36012909523441209e1, 2.44024637934444173e2, 1.28261652607737228e3, 2.84423683343917062e3];
const MID_NUM = [
  2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594, 6.61191906371416295e1, 2.98635138197400131e2, 8.8195222124176909e2,
  1.71204761263407058e3, 2.05107837782607147e3, 1.23033935479799725e3,
];
const MID_DEN = [
  1, 1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2, 1.62138957456669019e3, 3.29079923573345963e3,
  4.36261909014324716e3, 3.43936767414372164e3, 1.23033935480374942e3,
];
const TAIL_NUM = [
  1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
  6.58749161529837803e-4,
];
const TAIL_DEN = [1, 2.56852019228982242, 1.87295284992346047, 5.27905102951428412e-1, 6.05183413124413191e-2, 2.33520497626869185e-3];
/* eslint-enable no-loss-of-precision */
const horner = (cs: readonly number[], x: number): number => cs.reduce((acc, c) => acc * x + c, 0);

/**
 * Complementary error function by Cody's three rational approximations (|x| ≤ 0.46875,
 * ≤ 4, > 4). Their theoretical relative error is below 1e-18, so in binary64 the result is
 * good to a few ulps; it underflows to 0 for x ≥ 26.543.
 *
 * @example erfc(1) // ≈ 0.157299207050285
 */
export function erfc(x: number): number {
  const y = Math.abs(x);
  if (y <= 0.46875) return 1 - (x * horner(ERF_NUM, x * x)) / horner(ERF_DEN, x * x);
  if (y >= 26.543) return x < 0 ? 2 : 0; // erfc underflows; returning early also keeps ±∞ out of the exp split
  let r: number;
  if (y <= 4) r = horner(MID_NUM, y) / horner(MID_DEN, y);
  else {
    const w = 1 / (y * y);
    r = (0.5641895835477563 - (w * horner(TAIL_NUM, w)) / horner(TAIL_DEN, w)) / y; // 1/√π − …
  }
  // exp(−y²) split as exp(−ys²)·exp(−(y−ys)(y+ys)) with ys = y rounded down to 1/16: y² itself
  // would lose the low bits that decide exp's relative accuracy for large y.
  const ys = Math.trunc(y * 16) / 16;
  r *= Math.exp(-ys * ys) * Math.exp(-(y - ys) * (y + ys));
  return x < 0 ? 2 - r : r;
}

/**
 * Standard normal CDF Φ(z) = erfc(−z/√2)/2. Relative error below 1e-13 for |z| ≤ 37
 * (rounding z/√2 costs about z²·1.1e-16), checked against scipy in the unit tests.
 *
 * @example normalCdf(1.959963984540054) // 0.975
 */
export const normalCdf = (z: number): number => 0.5 * erfc(-z * Math.SQRT1_2);

/**
 * Upper tail 1 − Φ(z), computed directly so tiny p-values keep their relative accuracy.
 *
 * @example normalSf(3) // 0.0013498980316301
 */
export const normalSf = (z: number): number => 0.5 * erfc(z * Math.SQRT1_2);

// ---------------------------------------------------------------- rank test

export interface RankTest {
  u: number;
  z: number;
  pValue: number;
}

/** One side of a rank test: ascending distinct-or-repeated values, each with a count (1 when `counts` is null). */
interface Side {
  values: ArrayLike<number>;
  counts: ArrayLike<number> | null;
}

function rankTest(x: Side, y: Side): RankTest {
  const total = (s: Side): number => {
    if (!s.counts) return s.values.length;
    let n = 0;
    for (let k = 0; k < s.counts.length; k++) n += s.counts[k] as number;
    return n;
  };
  const n1 = total(x),
    n2 = total(y),
    n = n1 + n2;
  if (n1 === 0 || n2 === 0) return { u: 0, z: 0, pValue: 1 };
  const xv = x.values,
    yv = y.values,
    xc = x.counts,
    yc = y.counts;
  // Walk both sides at once, one distinct value at a time: each tie group gets its average rank.
  let i = 0,
    j = 0,
    below = 0,
    rankSumX = 0,
    tieTerm = 0;
  while (i < xv.length || j < yv.length) {
    const v = Math.min(i < xv.length ? (xv[i] as number) : Infinity, j < yv.length ? (yv[j] as number) : Infinity);
    let cx = 0,
      cy = 0;
    while (i < xv.length && xv[i] === v) cx += xc ? (xc[i++] as number) : (i++, 1);
    while (j < yv.length && yv[j] === v) cy += yc ? (yc[j++] as number) : (j++, 1);
    const t = cx + cy;
    rankSumX += cx * (below + (t + 1) / 2);
    tieTerm += t * t * t - t;
    below += t;
  }
  const u = rankSumX - (n1 * (n1 + 1)) / 2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  if (!(sd > 0)) return { u, z: 0, pValue: 1 }; // scipy's z is −∞ here; 0 survives JSON
  const z = (u - (n1 * n2) / 2 - 0.5) / sd;
  return { u, z, pValue: normalSf(z) };
}

/**
 * One-sided Mann–Whitney U test that `x` is stochastically greater than `y`: normal
 * approximation with tie and continuity corrections, as scipy's
 * `mannwhitneyu(x, y, alternative='greater', method='asymptotic')`; `u` is U of `x`.
 * Without variance (an empty side, or every value tied) there is no evidence: p = 1.
 *
 * @example mannWhitneyGreater([5, 6, 7], [1, 2, 3]).u // 9
 */
export const mannWhitneyGreater = (x: readonly number[], y: readonly number[]): RankTest =>
  mannWhitneyGreaterSorted(Float64Array.from(x).sort(), Float64Array.from(y).sort());

/** {@link mannWhitneyGreater} on samples already sorted ascending (saves the sort when percentiles need it too). */
export const mannWhitneyGreaterSorted = (x: Float64Array, y: Float64Array): RankTest =>
  rankTest({ values: x, counts: null }, { values: y, counts: null });

/**
 * The same test on two latency histograms: each bucket is one tie group, so it is the raw
 * test on latencies rounded to their bucket (2 % wide). scipy agrees when given the bucket
 * indices as samples.
 */
export function mannWhitneyGreaterHistogram(x: LatencyHistogram, y: LatencyHistogram): RankTest {
  const side = (h: LatencyHistogram): Side => {
    const runs = sortedRuns(h);
    return { values: runs.map((r) => r[0]), counts: runs.map((r) => r[1]) };
  };
  return rankTest(side(x), side(y));
}

// ---------------------------------------------------------------- proportions

/**
 * One-sided pooled two-proportion z-test that rate x1/n1 exceeds x2/n2. Without variation
 * (an empty group, or a pooled rate of 0 or 1) nothing is significant: z = 0, p = 1.
 *
 * @example twoProportionGreater(300, 10_000, 100, 10_000).pValue // ≈ 2.7e-24
 */
export function twoProportionGreater(x1: number, n1: number, x2: number, n2: number): { z: number; pValue: number } {
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (!(se > 0) || !Number.isFinite(se)) return { z: 0, pValue: 1 };
  const z = (x1 / n1 - x2 / n2) / se;
  return { z, pValue: normalSf(z) };
}

/**
 * P(X ≥ k) for a unimodal distribution on the integers [lo, hi] given by the ratio
 * `ratio(x) = P(X = x + 1) / P(X = x)`: terms are summed outward from the mode (set to 1,
 * so nothing overflows) until they underflow, then normalised. Exact to ~1e-13 relative
 * for the p-values that decide anything, without log-gamma differences of huge numbers.
 */
function unimodalTail(lo: number, hi: number, mode: number, ratio: (x: number) => number, k: number): number {
  if (k <= lo) return 1;
  if (k > hi) return 0;
  let total = 1,
    upper = mode >= k ? 1 : 0,
    t = 1;
  for (let x = mode; x < hi; x++) {
    t *= ratio(x);
    if (t === 0) break;
    total += t;
    if (x + 1 >= k) upper += t;
  }
  t = 1;
  for (let x = mode; x > lo; x--) {
    t /= ratio(x - 1);
    if (t === 0) break;
    total += t;
    if (x - 1 >= k) upper += t;
  }
  return Math.min(1, upper / total);
}

/**
 * One-sided Fisher's exact test that the rate x1/n1 exceeds x2/n2: P(X ≥ x1) for X
 * hypergeometric (the x1 + x2 events spread over n1 + n2 trials, n1 drawn), as scipy's
 * `fisher_exact([[x1, n1 − x1], [x2, n2 − x2]], alternative='greater')`.
 *
 * @example fisherExactGreater(3, 200, 10, 4000).pValue // ≈ 0.0214
 */
export function fisherExactGreater(x1: number, n1: number, x2: number, n2: number): { pValue: number } {
  const N = n1 + n2,
    K = x1 + x2;
  if (n1 === 0 || n2 === 0 || K === 0 || K === N) return { pValue: 1 };
  const lo = Math.max(0, n1 + K - N),
    hi = Math.min(K, n1);
  const mode = Math.min(hi, Math.max(lo, Math.floor(((n1 + 1) * (K + 1)) / (N + 2))));
  const ratio = (x: number) => ((K - x) * (n1 - x)) / ((x + 1) * (N - K - n1 + x + 1));
  return { pValue: unimodalTail(lo, hi, mode, ratio, x1) };
}

/**
 * True when a 2×2 table of events and non-events has an expected count below 5 in any cell:
 * the normal approximation is poor there and the judge uses Fisher's exact test instead.
 */
export function smallExpectedCell(x1: number, n1: number, x2: number, n2: number): boolean {
  const N = n1 + n2,
    K = x1 + x2;
  if (N === 0) return true;
  return (Math.min(K, N - K) * Math.min(n1, n2)) / N < 5;
}

/**
 * Exact binomial upper tail P(X ≥ k) for X ~ Binomial(n, p), as scipy's
 * `binom.sf(k − 1, n, p)`.
 *
 * @example binomialUpperTail(3, 20, 0.05) // ≈ 0.0755
 */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n || p <= 0) return 0;
  if (p >= 1) return 1;
  const mode = Math.min(n, Math.floor((n + 1) * p));
  const odds = p / (1 - p);
  return unimodalTail(0, n, mode, (x) => ((n - x) / (x + 1)) * odds, k);
}

/**
 * Sample-ratio test: does the canary's share of requests match the share the route gave it?
 * Pearson's chi-square with one degree of freedom (scipy's `chisquare([canary, stable],
 * f_exp=[N·share, N·(1 − share)])`), two-sided. Only checked when both expected counts are
 * at least 5 (`checked: false` otherwise: the approximation would mislead).
 *
 * @example sampleRatioTest(150, 3850, 0.05) // { checked: true, chiSquare: 13.16, pValue: 0.00029 }
 */
export function sampleRatioTest(canary: number, stable: number, share: number): { checked: boolean; chiSquare: number; pValue: number } {
  const n = canary + stable;
  const ec = n * share,
    es = n * (1 - share);
  if (!(share > 0 && share < 1) || ec < 5 || es < 5) return { checked: false, chiSquare: 0, pValue: 1 };
  const chiSquare = (canary - ec) ** 2 / ec + (stable - es) ** 2 / es;
  return { checked: true, chiSquare, pValue: erfc(Math.sqrt(chiSquare / 2)) };
}
