/**
 * The canary judge: compares a canary's serving metrics with the stable variant's and says
 * pass, fail (roll back) or inconclusive (wait for more traffic). Pure and deterministic:
 * same input, same judgement, no I/O, no randomness.
 *
 * A metric fails only when the difference is both statistically significant (one-sided,
 * canary worse) and larger than its tolerance: with enough traffic any difference becomes
 * significant, and a harmless one must not trigger a rollback. Quality is the exception: a
 * relative drop above `rollbackThreshold` fails on its own, because labels are scarce and a
 * real accuracy loss costs more than an unnecessary rollback.
 */
import { AegisError } from './errors.js';
import type { VariantMetrics } from './canary-metrics.js';

export type { Variant, VariantMetrics } from './canary-metrics.js';

export interface CanaryConfig {
  /** Relative quality drop, (stable − canary) / stable, that fails the canary. @default 0.02 */ rollbackThreshold?: number;
  /** Significance level of the one-sided tests. @default 0.05 */ alpha?: number;
  /** Requests each variant needs before any verdict but inconclusive. @default 200 */ minRequests?: number;
  /** Latency samples each variant needs. @default 50 */ minLatencySamples?: number;
  /** Labelled predictions each variant needs before quality is judged. @default 50 */ minLabelled?: number;
  /** How much worse (relative) canary p95/p99 may be before it counts. @default 0.10 */ latencyTolerance?: number;
  /** How much higher (absolute) the canary error rate may be before it counts. @default 0.005 */ errorRateTolerance?: number;
}

export const CANARY_DEFAULTS = {
  rollbackThreshold: 0.02, alpha: 0.05, minRequests: 200, minLatencySamples: 50, minLabelled: 50, latencyTolerance: 0.1, errorRateTolerance: 0.005,
} as const satisfies Required<CanaryConfig>;

export type CanaryMetric = 'errorRate' | 'latencyP95' | 'latencyP99' | 'quality';

/** Linear-interpolation percentiles (numpy's default); null for an empty sample. */
export interface Percentiles { n: number; p95: number | null; p99: number | null }

export interface CanaryJudgement {
  verdict: 'pass' | 'fail' | 'inconclusive';
  /** The first failing metric, in the order errorRate, latencyP95, latencyP99, quality. */
  failed?: { metric: CanaryMetric; detail: string };
  /** One line per check (or per missing sample on inconclusive), failures included. */
  reasons: string[];
  metrics: {
    errorRate: { stable: number; canary: number; difference: number; z: number; pValue: number };
    latency: { stable: Percentiles; canary: Percentiles; percentileMethod: 'linear'; u: number; z: number; pValue: number };
    /** Present when both variants report label feedback; `judged` once both have enough labels. */
    quality?: { stable: number; canary: number; relativeDrop: number; z: number; pValue: number; judged: boolean };
  };
}

// W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23
// (1969), as in SPECFUN CALERF (ACM TOMS 715). Coefficients are listed in Horner order.
const ERF_NUM = [1.85777706184603153e-1, 3.16112374387056560e0, 1.13864154151050156e2, 3.77485237685302021e2, 3.20937758913846947e3];
const ERF_DEN = [1, 2.36012909523441209e1, 2.44024637934444173e2, 1.28261652607737228e3, 2.84423683343917062e3];
const MID_NUM = [2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594e0, 6.61191906371416295e1, 2.98635138197400131e2, 8.81952221241769090e2, 1.71204761263407058e3, 2.05107837782607147e3, 1.23033935479799725e3];
const MID_DEN = [1, 1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2, 1.62138957456669019e3, 3.29079923573345963e3, 4.36261909014324716e3, 3.43936767414372164e3, 1.23033935480374942e3];
const TAIL_NUM = [1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4];
const TAIL_DEN = [1, 2.56852019228982242e0, 1.87295284992346047e0, 5.27905102951428412e-1, 6.05183413124413191e-2, 2.33520497626869185e-3];
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
    r = (0.5641895835477562869 - (w * horner(TAIL_NUM, w)) / horner(TAIL_DEN, w)) / y; // 1/√π − …
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

/**
 * Percentile q ∈ [0, 1] of an ascending sample by linear interpolation between closest
 * ranks (Hyndman–Fan type 7, numpy's default); null for an empty sample.
 *
 * @example percentile(Float64Array.of(1, 2, 3, 4), 0.95) // ≈ 3.85
 */
export function percentile(sorted: ArrayLike<number>, q: number): number | null {
  if (sorted.length === 0) return null;
  const h = (sorted.length - 1) * q, lo = Math.floor(h), t = h - lo;
  const a = sorted[lo] as number;
  const b = sorted[Math.min(lo + 1, sorted.length - 1)] as number;
  // numpy's lerp form: interpolating from the nearer end keeps the result within [a, b].
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

/**
 * One-sided Mann–Whitney U test that `x` is stochastically greater than `y`: normal
 * approximation with tie correction and continuity correction, as scipy's
 * `mannwhitneyu(x, y, alternative='greater', method='asymptotic')`. `u` is U of `x`.
 * Without variance (an empty sample, or every value tied) there is no evidence: p = 1.
 *
 * @example mannWhitneyGreater([5, 6, 7], [1, 2, 3]).u // 9
 */
export function mannWhitneyGreater(x: readonly number[], y: readonly number[]): { u: number; z: number; pValue: number } {
  const xs = Float64Array.from(x).sort(), ys = Float64Array.from(y).sort();
  const n1 = xs.length, n2 = ys.length, n = n1 + n2;
  if (n1 === 0 || n2 === 0) return { u: 0, z: 0, pValue: 1 };
  // Walk both sorted samples at once, one distinct value at a time, so each tie group gets
  // its average rank without sorting an index array of the pooled sample.
  let i = 0, j = 0, below = 0, rankSumX = 0, tieTerm = 0;
  while (i < n1 || j < n2) {
    const v = Math.min(i < n1 ? (xs[i] as number) : Infinity, j < n2 ? (ys[j] as number) : Infinity);
    let cx = 0, cy = 0;
    while (i < n1 && xs[i] === v) { i++; cx++; }
    while (j < n2 && ys[j] === v) { j++; cy++; }
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

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;
const pv = (p: number): string => p.toPrecision(3);

const invalid = (field: string, why: string): never => { throw new AegisError('VALIDATION_FAILED', `${field} ${why}`, { field }); };

function checkInput(stable: VariantMetrics, canary: VariantMetrics, cfg: Required<CanaryConfig>): void {
  for (const [name, v] of [['stable', stable], ['canary', canary]] as const) {
    if (!isCount(v.requests)) invalid(`${name}.requests`, 'must be a non-negative integer');
    if (!isCount(v.errors) || v.errors > v.requests) invalid(`${name}.errors`, 'must be an integer from 0 to requests');
    if (!Array.isArray(v.latenciesMs) || !v.latenciesMs.every((l) => Number.isFinite(l) && l >= 0)) invalid(`${name}.latenciesMs`, 'must hold finite non-negative numbers');
    const q = v.quality;
    if (q !== undefined && (!isCount(q.labelled) || !isCount(q.correct) || q.correct > q.labelled)) invalid(`${name}.quality`, 'must have integers 0 ≤ correct ≤ labelled');
  }
  if (!(cfg.alpha > 0 && cfg.alpha < 1)) invalid('config.alpha', 'must be between 0 and 1');
  for (const k of ['rollbackThreshold', 'latencyTolerance', 'errorRateTolerance'] as const) if (!(Number.isFinite(cfg[k]) && cfg[k] >= 0)) invalid(`config.${k}`, 'must be a finite number ≥ 0');
  for (const k of ['minRequests', 'minLatencySamples', 'minLabelled'] as const) if (!(Number.isSafeInteger(cfg[k]) && cfg[k] >= 1)) invalid(`config.${k}`, 'must be an integer ≥ 1');
}

/**
 * Judges a canary against the stable variant over the same window. Too few requests or
 * latency samples on either side is always inconclusive, never pass (nor fail: a verdict
 * from a handful of requests would be noise). Throws VALIDATION_FAILED on malformed input.
 *
 * @example
 * const { verdict, failed, reasons } = judgeCanary({ stable, canary, config: { alpha: 0.01 } });
 * if (verdict === 'fail') await rollback(deployment, failed!.detail);
 */
export function judgeCanary(input: { stable: VariantMetrics; canary: VariantMetrics; config?: CanaryConfig }): CanaryJudgement {
  const { stable, canary } = input;
  // `{ alpha: undefined }` must mean "default", not overwrite the default with undefined.
  const cfg: Required<CanaryConfig> = { ...CANARY_DEFAULTS, ...Object.fromEntries(Object.entries(input.config ?? {}).filter(([, v]) => v !== undefined)) };
  checkInput(stable, canary, cfg);

  const rate = (v: VariantMetrics): number => (v.requests > 0 ? v.errors / v.requests : 0);
  const errTest = twoProportionGreater(canary.errors, canary.requests, stable.errors, stable.requests);
  const errorRate = { stable: rate(stable), canary: rate(canary), difference: rate(canary) - rate(stable), ...errTest };

  const sorted = (v: VariantMetrics): Float64Array => Float64Array.from(v.latenciesMs).sort();
  const describe = (s: Float64Array): Percentiles => ({ n: s.length, p95: percentile(s, 0.95), p99: percentile(s, 0.99) });
  const latency = { stable: describe(sorted(stable)), canary: describe(sorted(canary)), percentileMethod: 'linear' as const, ...mannWhitneyGreater(canary.latenciesMs, stable.latenciesMs) };

  let quality: CanaryJudgement['metrics']['quality'];
  const reasons: string[] = [];
  if (stable.quality && canary.quality) {
    const [s, c] = [stable.quality, canary.quality];
    const qs = s.labelled > 0 ? s.correct / s.labelled : 0;
    const qc = c.labelled > 0 ? c.correct / c.labelled : 0;
    // Quality is worse when the canary is wrong more often: test the incorrect fractions.
    const test = twoProportionGreater(c.labelled - c.correct, c.labelled, s.labelled - s.correct, s.labelled);
    quality = { stable: qs, canary: qc, relativeDrop: qs > 0 ? (qs - qc) / qs : 0, ...test, judged: Math.min(s.labelled, c.labelled) >= cfg.minLabelled };
  }
  const metrics = { errorRate, latency, ...(quality ? { quality } : {}) };

  for (const [name, v] of [['stable', stable], ['canary', canary]] as const) {
    if (v.requests < cfg.minRequests) reasons.push(`${name} has ${v.requests} requests, fewer than minRequests ${cfg.minRequests}`);
    if (v.latenciesMs.length < cfg.minLatencySamples) reasons.push(`${name} has ${v.latenciesMs.length} latency samples, fewer than minLatencySamples ${cfg.minLatencySamples}`);
  }
  if (reasons.length > 0) return { verdict: 'inconclusive', reasons, metrics };

  const failures: { metric: CanaryMetric; detail: string }[] = [];
  const check = (metric: CanaryMetric, failedNow: boolean, detail: string): void => {
    reasons.push(`${metric} ${failedNow ? 'FAIL' : 'ok'}: ${detail}`);
    if (failedNow) failures.push({ metric, detail });
  };

  check('errorRate', errorRate.pValue < cfg.alpha && errorRate.difference > cfg.errorRateTolerance,
    `canary ${pct(errorRate.canary)} vs stable ${pct(errorRate.stable)} (p=${pv(errorRate.pValue)}, alpha ${cfg.alpha}, tolerance +${pct(cfg.errorRateTolerance)})`);

  for (const [metric, key] of [['latencyP95', 'p95'], ['latencyP99', 'p99']] as const) {
    const c = latency.canary[key] as number, s = latency.stable[key] as number;
    check(metric, latency.pValue < cfg.alpha && c > s * (1 + cfg.latencyTolerance),
      `canary ${key} ${c.toFixed(1)} ms vs stable ${s.toFixed(1)} ms (Mann–Whitney p=${pv(latency.pValue)}, alpha ${cfg.alpha}, tolerance +${pct(cfg.latencyTolerance)})`);
  }

  const unlabelled = (['stable', 'canary'] as const).filter((n) => (input[n].quality?.labelled ?? 0) < cfg.minLabelled);
  if (!quality || !quality.judged) reasons.push(`quality not judged: ${unlabelled.join(' and ')} below minLabelled ${cfg.minLabelled} labelled predictions`);
  else {
    check('quality', quality.relativeDrop > cfg.rollbackThreshold,
      `canary ${pct(quality.canary)} vs stable ${pct(quality.stable)} correct, relative drop ${pct(quality.relativeDrop)} (threshold ${pct(cfg.rollbackThreshold)}; p=${pv(quality.pValue)}, for information)`);
  }

  const [first] = failures;
  return first ? { verdict: 'fail', failed: first, reasons, metrics } : { verdict: 'pass', reasons, metrics };
}
