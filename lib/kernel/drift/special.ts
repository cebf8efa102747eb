/**
 * Special functions for the drift tests, pure and dependency-free: log-gamma and the
 * regularized incomplete gamma functions (Numerical Recipes, 3rd ed., §6.1–6.2: a series
 * below `a + 1`, a modified-Lentz continued fraction above), giving the chi-square upper tail.
 * Checked against scipy (`scripts/gen-drift-fixtures.py`).
 */

// Lanczos approximation, g = 7, 9 terms (relative error below 2e-15 for x > 0).
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_2PI = 0.9189385332046728;

/**
 * ln Γ(x) for x > 0.
 *
 * @example logGamma(5) // ≈ ln 24 = 3.1780538303479458
 */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma needs x > 0, got ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return HALF_LOG_2PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPS = 1e-16;
const TINY = 1e-300;
const MAX_ITER = 100_000;

/** e^(−x)·x^a/Γ(a), the prefactor both expansions share, in logs so nothing overflows. */
const prefactor = (a: number, x: number): number => Math.exp(-x + a * Math.log(x) - logGamma(a));

/** P(a, x) by its power series; converges fast for x < a + 1. */
function lowerSeries(a: number, x: number): number {
  let ap = a;
  let del = 1 / a;
  let sum = del;
  for (let i = 0; i < MAX_ITER; i++) {
    ap += 1;
    del *= x / ap;
    sum += del;
    if (Math.abs(del) < Math.abs(sum) * EPS) break;
  }
  return sum * prefactor(a, x);
}

/** Q(a, x) by its continued fraction (modified Lentz); converges fast for x ≥ a + 1. */
function upperFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return prefactor(a, x) * h;
}

/**
 * Regularized upper incomplete gamma Q(a, x) = Γ(a, x)/Γ(a), a > 0, x ≥ 0. Computed directly
 * in the upper tail, so tiny p-values keep their relative accuracy.
 *
 * @example regularizedUpperGamma(1, 2) // e^-2 ≈ 0.1353352832366127
 */
export function regularizedUpperGamma(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`regularizedUpperGamma needs a > 0, got ${a}`);
  if (!(x > 0)) return 1;
  if (x === Infinity) return 0;
  if (x < a + 1) return Math.max(0, 1 - lowerSeries(a, x));
  return Math.min(1, upperFraction(a, x));
}

/**
 * Chi-square upper tail P(X ≥ x) with `df` degrees of freedom: Q(df/2, x/2), as scipy's
 * `chi2.sf(x, df)`.
 *
 * @example chiSquareSf(3.841458820694124, 1) // ≈ 0.05
 */
export const chiSquareSf = (x: number, df: number): number => regularizedUpperGamma(df / 2, x / 2);
