/**
 * The distribution of the two-sided one-sample Kolmogorov–Smirnov statistic Dₙ, upper tail
 * P(Dₙ ≥ d), chosen by regime as scipy's `kstwo.sf(d, n)` does (Simard & L'Ecuyer, "Computing
 * the two-sided Kolmogorov–Smirnov distribution", J. Stat. Softw. 39(11), 2011):
 * Ruben–Gambino closed forms at the ends, the exact one-sided Smirnov sum (doubled) in the
 * upper tail, the Durbin matrix (Marsaglia–Tsang–Wang) for n ≤ 140, and the Pelz–Good
 * expansion for larger n. `ks2samp` uses it with n = round(n₁n₂/(n₁+n₂)) as its asymptotic
 * p-value; the binned KS test uses it too.
 */
import { logGamma } from './special.js';

/**
 * One-sided Smirnov tail P(Dₙ⁺ ≥ x), exact (Birnbaum–Tingey):
 * x·Σ_{j=0}^{⌊n(1−x)⌋} C(n,j)(1 − x − j/n)^(n−j)(x + j/n)^(j−1), summed in logs.
 */
export function smirnovSf(n: number, x: number): number {
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  const nx = n * x;
  const last = Math.floor(n - nx);
  let logC = 0; // ln C(n, j)
  const terms = new Float64Array(last + 1);
  let max = -Infinity;
  let used = 0;
  for (let j = 0; j <= last; j++) {
    if (j > 0) logC += Math.log((n - j + 1) / j);
    const low = n - j - nx; // n·(1 − x − j/n)
    if (low <= 0 && n - j > 0) break;
    const t = logC + (n - j > 0 ? (n - j) * Math.log(low / n) : 0) + (j - 1) * Math.log((nx + j) / n);
    terms[used++] = t;
    if (t > max) max = t;
  }
  let sum = 0;
  for (let i = 0; i < used; i++) sum += Math.exp(terms[i]! - max);
  return Math.min(1, x * Math.exp(max) * sum);
}

type Matrix = Float64Array[];
const zeros = (m: number): Matrix => Array.from({ length: m }, () => new Float64Array(m));

function multiply(a: Matrix, b: Matrix): Matrix {
  const m = a.length;
  const c = zeros(m);
  for (let i = 0; i < m; i++) {
    const ci = c[i]!;
    const ai = a[i]!;
    for (let k = 0; k < m; k++) {
      const v = ai[k]!;
      if (v === 0) continue;
      const bk = b[k]!;
      for (let j = 0; j < m; j++) ci[j]! += v * bk[j]!;
    }
  }
  return c;
}

/** Hⁿ with a power-of-ten exponent kept apart (entries grow past the double range). */
function power(h: Matrix, n: number, centre: number): { m: Matrix; exp: number } {
  if (n === 1) return { m: h, exp: 0 };
  const half = power(h, Math.floor(n / 2), centre);
  let m = multiply(half.m, half.m);
  let exp = 2 * half.exp;
  if (n % 2 === 1) m = multiply(h, m);
  if (m[centre]![centre]! > 1e140) {
    for (const row of m) for (let j = 0; j < row.length; j++) row[j]! *= 1e-140;
    exp += 140;
  }
  return { m, exp };
}

/** P(Dₙ < d) by the Durbin matrix (Marsaglia, Tsang & Wang, J. Stat. Softw. 8(18), 2003). */
export function durbinCdf(n: number, d: number): number {
  const k = Math.floor(n * d) + 1;
  const m = 2 * k - 1;
  const h = k - n * d;
  const H = zeros(m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) H[i]![j] = i - j + 1 >= 0 ? 1 : 0;
  for (let i = 0; i < m; i++) {
    H[i]![0]! -= h ** (i + 1);
    H[m - 1]![i]! -= h ** (m - i);
  }
  H[m - 1]![0]! += 2 * h - 1 > 0 ? (2 * h - 1) ** m : 0;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < m; j++) {
      if (i - j + 1 > 0) for (let g = 1; g <= i - j + 1; g++) H[i]![j]! /= g;
    }
  const q = power(H, n, k - 1);
  let s = q.m[k - 1]![k - 1]!;
  let exp = q.exp;
  for (let i = 1; i <= n; i++) {
    s = (s * i) / n;
    if (s < 1e-140) {
      s *= 1e140;
      exp -= 140;
    }
  }
  return s * 10 ** exp;
}

const PI2 = Math.PI ** 2;
const SQRT_2PI = Math.sqrt(2 * Math.PI);

/** P(Dₙ ≤ x) by the Pelz–Good expansion K₀ + K₁/√n + K₂/n + K₃/n^1.5 (accurate for n > 140). */
export function pelzGoodCdf(n: number, x: number): number {
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const qlog = -PI2 / 8 / z2;
  if (qlog < -708) return 0;
  const q = Math.exp(qlog);
  const [z4, z6] = [z2 * z2, z2 * z2 * z2];
  const c1 = [-z2, PI2 / 4];
  const c2 = [6 * z6 + 2 * z4, ((2 * z4 - 5 * z2) * PI2) / 4, (PI2 * PI2 * (1 - 2 * z2)) / 16];
  const c3 = [
    -30 * z6 - 90 * z4 * z4,
    (PI2 * (135 * z4 - 96 * z6)) / 4,
    (PI2 * PI2 * (-60 * z2 + 212 * z4)) / 16,
    (PI2 ** 3 * (5 - 30 * z2)) / 64,
  ];
  const K = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k >= 1; k--) {
    const m2 = (2 * k - 1) ** 2;
    const qp = q ** (8 * k);
    const terms = [1, c1[0]! + c1[1]! * m2, c2[0]! + c2[1]! * m2 + c2[2]! * m2 * m2, c3[0]! + m2 * (c3[1]! + m2 * (c3[2]! + m2 * c3[3]!))];
    for (let i = 0; i < 4; i++) K[i] = K[i]! * qp + terms[i]!;
  }
  const scale = [z, 6 * z4, 72 * z4 * z2 * z, 6480 * z4 * z6];
  for (let i = 0; i < 4; i++) K[i] = (K[i]! * q * SQRT_2PI) / scale[i]!;
  const q2 = Math.exp(-PI2 / 2 / z2);
  let k2 = 0;
  let k3 = 0;
  for (let k = maxk; k >= 1; k--) {
    const w = k * k * q2 ** (k * k);
    k2 += w;
    k3 += (3 * z2 - PI2 * k * k) * w;
  }
  K[2]! += (k2 * PI2 * SQRT_2PI) / (-36 * z2 * z);
  K[3]! += (k3 * PI2 * SQRT_2PI) / (216 * z6);
  return K[0]! + K[1]! / Math.sqrt(n) + K[2]! / n + K[3]! / n ** 1.5;
}

const clip = (p: number): number => Math.min(1, Math.max(0, p));

/**
 * P(Dₙ ≥ d) for the two-sided one-sample KS statistic, as scipy's `kstwo.sf(d, n)`.
 *
 * @example kolmogorovSf(100, 0.1) // ≈ 0.2606 (scipy 0.26055)
 */
export function kolmogorovSf(n: number, d: number): number {
  if (!(d > 0)) return 1;
  if (d >= 1) return 0;
  const t = n * d;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    return clip(1 - Math.exp(logGamma(n + 1) - n * Math.log(n) + n * Math.log(2 * t - 1)));
  }
  if (t >= n - 1) return clip(2 * (1 - d) ** n);
  if (d >= 0.5) return clip(2 * smirnovSf(n, d));
  const nx2 = t * d;
  if (n <= 140) return nx2 <= 4 ? clip(1 - durbinCdf(n, d)) : clip(2 * smirnovSf(n, d));
  if (nx2 >= 370) return 0;
  if (nx2 >= 2.2) return clip(2 * smirnovSf(n, d));
  return clip(1 - (n <= 100_000 && n * d ** 1.5 <= 1.4 ? durbinCdf(n, d) : pelzGoodCdf(n, d)));
}
