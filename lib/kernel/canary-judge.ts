/**
 * The canary judge: compares a canary's serving metrics with the stable variant's and says
 * pass, fail (roll back) or inconclusive (wait for more traffic). Pure and deterministic:
 * same input, same judgement, no I/O, no randomness.
 *
 * It must not cry wolf. For two identical variants the chance that a window fails is at most
 * `alpha` (2 %, Kayenta's 98 % confidence), family-wise over every test the window runs:
 * each guardrail test gets `guardrailAlpha`, and the comparisons (error rate, latency,
 * quality when judged) share the rest equally (Bonferroni). A comparison fails only when
 * the difference is both significant (one-sided, canary worse) and larger than its
 * tolerance: with enough traffic any difference becomes significant, and a harmless one must
 * not trigger a rollback.
 *
 * Two guardrails fail at once, before the minimum traffic is reached: a canary whose error
 * rate is significantly above the ceiling, and a sample-ratio mismatch (the canary's share of
 * requests far from the share the route gave it: the split or the canary is broken, and
 * every comparison would be biased).
 */
import { AegisError } from './errors.js';
import type { LatencyHistogram, VariantMetrics } from './canary-metrics.js';
import { CANARY_DEFAULTS, type CanaryCheck, type CanaryConfig, type CanaryJudgement, type Percentiles } from './canary-judgement.js';
import { histogramCount, histogramPercentile, percentile, sortedRuns, toHistogram } from './canary-percentiles.js';
import {
  binomialUpperTail,
  fisherExactGreater,
  mannWhitneyGreaterHistogram,
  mannWhitneyGreaterSorted,
  sampleRatioTest,
  smallExpectedCell,
  twoProportionGreater,
} from './canary-statistics.js';

export type { LatencyHistogram, Variant, VariantMetrics } from './canary-metrics.js';
export {
  erfc,
  normalCdf,
  normalSf,
  mannWhitneyGreater,
  mannWhitneyGreaterHistogram,
  twoProportionGreater,
  fisherExactGreater,
  binomialUpperTail,
  sampleRatioTest,
} from './canary-statistics.js';
export { percentile, toHistogram, histogramPercentile, sortedRuns, bucketValue } from './canary-percentiles.js';
export {
  CANARY_CHECKS,
  CANARY_DEFAULTS,
  type CanaryCheck,
  type CanaryConfig,
  type CanaryJudgement,
  type CanaryMetric,
  type JudgeReason,
  type Percentiles,
} from './canary-judgement.js';

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;
const pv = (p: number): string => p.toPrecision(3);
const ms = (v: number | null): string => (v === null ? 'n/a' : `${v.toFixed(1)} ms`);

const invalid = (field: string, why: string): never => {
  throw new AegisError('VALIDATION_FAILED', `${field} ${why}`, { field });
};

function checkInput(stable: VariantMetrics, canary: VariantMetrics, canaryPercent: number | undefined, cfg: Required<CanaryConfig>): void {
  for (const [name, v] of [
    ['stable', stable],
    ['canary', canary],
  ] as const) {
    if (!isCount(v.requests)) invalid(`${name}.requests`, 'must be a non-negative integer');
    if (!isCount(v.errors) || v.errors > v.requests) invalid(`${name}.errors`, 'must be an integer from 0 to requests');
    if (v.latenciesMs === undefined && v.latencyHistogram === undefined) invalid(`${name}.latenciesMs`, 'or latencyHistogram is required');
    if (v.latenciesMs !== undefined && (!Array.isArray(v.latenciesMs) || !v.latenciesMs.every((l) => Number.isFinite(l) && l >= 0)))
      invalid(`${name}.latenciesMs`, 'must hold finite non-negative numbers');
    if (
      v.latencyHistogram !== undefined &&
      (!Array.isArray(v.latencyHistogram) ||
        !v.latencyHistogram.every((p) => Array.isArray(p) && p.length === 2 && Number.isSafeInteger(p[0]) && isCount(p[1])))
    )
      invalid(`${name}.latencyHistogram`, 'must hold [integer bucket, count] pairs');
    const q = v.quality;
    if (q !== undefined && (!isCount(q.labelled) || !isCount(q.correct) || q.correct > q.labelled))
      invalid(`${name}.quality`, 'must have integers 0 ≤ correct ≤ labelled');
  }
  if (canaryPercent !== undefined && !(Number.isFinite(canaryPercent) && canaryPercent >= 0 && canaryPercent <= 100))
    invalid('canaryPercent', 'must be a number from 0 to 100');
  if (!(cfg.alpha > 0 && cfg.alpha < 1)) invalid('config.alpha', 'must be between 0 and 1');
  if (!(cfg.guardrailAlpha > 0 && 4 * cfg.guardrailAlpha <= cfg.alpha))
    invalid('config.guardrailAlpha', 'must be above 0 and at most alpha / 4');
  for (const k of ['rollbackThreshold', 'latencyTolerance', 'latencyToleranceMs', 'errorRateTolerance'] as const)
    if (!(Number.isFinite(cfg[k]) && cfg[k] >= 0)) invalid(`config.${k}`, 'must be a finite number ≥ 0');
  if (!(cfg.errorRateCeiling > 0 && cfg.errorRateCeiling < 1)) invalid('config.errorRateCeiling', 'must be between 0 and 1');
  for (const k of ['minRequests', 'minLatencySamples', 'minLabelled'] as const)
    if (!(Number.isSafeInteger(cfg[k]) && cfg[k] >= 1)) invalid(`config.${k}`, 'must be an integer ≥ 1');
}

/**
 * One-sided test that events x1/n1 happen more often than x2/n2: Fisher's exact test while
 * any expected cell count is below 5, the pooled two-proportion z-test above.
 */
export function rateGreater(x1: number, n1: number, x2: number, n2: number): { test: 'fisher' | 'z'; z: number | null; pValue: number } {
  if (smallExpectedCell(x1, n1, x2, n2)) return { test: 'fisher', z: null, ...fisherExactGreater(x1, n1, x2, n2) };
  return { test: 'z', ...twoProportionGreater(x1, n1, x2, n2) };
}

/** The latency comparison, on raw samples or (when either side sends one) on histograms. */
function latencyStats(stable: VariantMetrics, canary: VariantMetrics): CanaryJudgement['metrics']['latency'] {
  if (stable.latencyHistogram === undefined && canary.latencyHistogram === undefined) {
    const [s, c] = [Float64Array.from(stable.latenciesMs ?? []).sort(), Float64Array.from(canary.latenciesMs ?? []).sort()];
    const describe = (v: Float64Array): Percentiles => ({ n: v.length, p95: percentile(v, 0.95), p99: percentile(v, 0.99) });
    return { source: 'samples', stable: describe(s), canary: describe(c), percentileMethod: 'linear', ...mannWhitneyGreaterSorted(c, s) };
  }
  const hist = (v: VariantMetrics): LatencyHistogram => v.latencyHistogram ?? toHistogram(v.latenciesMs ?? []);
  const [s, c] = [hist(stable), hist(canary)];
  const describe = (h: LatencyHistogram): Percentiles => {
    const runs = sortedRuns(h);
    return { n: histogramCount(runs), p95: histogramPercentile(runs, 0.95), p99: histogramPercentile(runs, 0.99) };
  };
  return {
    source: 'histogram',
    stable: describe(s),
    canary: describe(c),
    percentileMethod: 'linear',
    ...mannWhitneyGreaterHistogram(c, s),
  };
}

/**
 * Judges a canary against the stable variant over the same window. `canaryPercent` is the
 * share of requests the route gave the canary during the window (the sample-ratio check
 * runs only when it is given). Too few requests or latency samples on either side is
 * inconclusive (reason `insufficient-traffic`), never pass; only the guardrails can fail
 * such a window. Throws VALIDATION_FAILED on malformed input.
 *
 * @example
 * const j = judgeCanary({ stable, canary, canaryPercent: 5, config: { minRequests: 200 } });
 * if (j.verdict === 'fail') await rollback(deployment, `${j.reason}: ${j.failed!.detail}`);
 */
export function judgeCanary(input: {
  stable: VariantMetrics;
  canary: VariantMetrics;
  canaryPercent?: number;
  config?: CanaryConfig;
}): CanaryJudgement {
  const { stable, canary, canaryPercent } = input;
  // `{ alpha: undefined }` must mean "default", not overwrite the default with undefined.
  const cfg: Required<CanaryConfig> = {
    ...CANARY_DEFAULTS,
    ...Object.fromEntries(Object.entries(input.config ?? {}).filter(([, v]) => v !== undefined)),
  };
  checkInput(stable, canary, canaryPercent, cfg);

  const rate = (v: VariantMetrics): number => (v.requests > 0 ? v.errors / v.requests : 0);
  const errorRate = {
    stable: rate(stable),
    canary: rate(canary),
    difference: rate(canary) - rate(stable),
    ...rateGreater(canary.errors, canary.requests, stable.errors, stable.requests),
  };
  const latency = latencyStats(stable, canary);

  let quality: CanaryJudgement['metrics']['quality'];
  if (stable.quality && canary.quality) {
    const [s, c] = [stable.quality, canary.quality];
    const qs = s.labelled > 0 ? s.correct / s.labelled : 0;
    const qc = c.labelled > 0 ? c.correct / c.labelled : 0;
    // Quality is worse when the canary is wrong more often: test the incorrect fractions.
    const test = rateGreater(c.labelled - c.correct, c.labelled, s.labelled - s.correct, s.labelled);
    quality = {
      stable: qs,
      canary: qc,
      labelled: { stable: s.labelled, canary: c.labelled },
      relativeDrop: qs > 0 ? (qs - qc) / qs : 0,
      ...test,
      judged: Math.min(s.labelled, c.labelled) >= cfg.minLabelled,
    };
  }

  const ceilingP = binomialUpperTail(canary.errors, canary.requests, cfg.errorRateCeiling);
  const errorCeiling = {
    ceiling: cfg.errorRateCeiling,
    canary: errorRate.canary,
    pValue: ceilingP,
    tripped: ceilingP < cfg.guardrailAlpha && errorRate.stable <= cfg.errorRateCeiling,
  };
  const share = canaryPercent === undefined ? null : canaryPercent / 100;
  const srm = share === null ? { checked: false, chiSquare: 0, pValue: 1 } : sampleRatioTest(canary.requests, stable.requests, share);
  const total = canary.requests + stable.requests;
  const sampleRatio = {
    expectedShare: share,
    observedShare: total > 0 ? canary.requests / total : null,
    ...srm,
    tripped: srm.checked && srm.pValue < cfg.guardrailAlpha,
  };

  const comparisons = quality?.judged ? 3 : 2;
  const perComparison = (cfg.alpha - 2 * cfg.guardrailAlpha) / comparisons;
  const significance = { family: cfg.alpha, guardrail: cfg.guardrailAlpha, comparisons, perComparison };
  const metrics = {
    requests: { stable: stable.requests, canary: canary.requests },
    errorRate,
    latency,
    ...(quality ? { quality } : {}),
    guardrails: { errorCeiling, sampleRatio },
  };

  const reasons: string[] = [];
  const failures: { metric: CanaryCheck; detail: string }[] = [];
  const check = (metric: CanaryCheck, failedNow: boolean, detail: string): void => {
    reasons.push(`${metric} ${failedNow ? 'FAIL' : 'ok'}: ${detail}`);
    if (failedNow) failures.push({ metric, detail });
  };
  const verdictOf = (fallback: 'pass' | 'inconclusive'): CanaryJudgement => {
    const [first] = failures;
    if (first) return { verdict: 'fail', reason: first.metric, failed: first, reasons, significance, metrics };
    return { verdict: fallback, reason: fallback === 'pass' ? 'pass' : 'insufficient-traffic', reasons, significance, metrics };
  };

  // Guardrails: judged on whatever traffic there is, so a broken canary fails at once.
  check(
    'errorCeiling',
    errorCeiling.tripped,
    `canary ${pct(errorRate.canary)} errors of ${canary.requests} vs ceiling ${pct(cfg.errorRateCeiling)} (binomial p=${pv(ceilingP)}, alpha ${pv(cfg.guardrailAlpha)}${errorRate.stable > cfg.errorRateCeiling ? `; stable is above the ceiling too (${pct(errorRate.stable)})` : ''})`,
  );
  if (sampleRatio.checked) {
    check(
      'sampleRatio',
      sampleRatio.tripped,
      `canary got ${pct(sampleRatio.observedShare!)} of ${total} requests, the route ${pct(share!)} (chi-square ${sampleRatio.chiSquare.toFixed(2)}, p=${pv(sampleRatio.pValue)}, alpha ${pv(cfg.guardrailAlpha)})`,
    );
  } else
    reasons.push(
      `sampleRatio not checked: ${share === null ? 'no route percent given' : `too few requests (${total}) for the route's ${pct(share)}`}`,
    );

  const missing: string[] = [];
  for (const [name, v] of [
    ['stable', stable],
    ['canary', canary],
  ] as const) {
    if (v.requests < cfg.minRequests) missing.push(`${name} has ${v.requests} requests, fewer than minRequests ${cfg.minRequests}`);
    const n = latency[name].n;
    if (n < cfg.minLatencySamples) missing.push(`${name} has ${n} latency samples, fewer than minLatencySamples ${cfg.minLatencySamples}`);
  }
  if (missing.length > 0) {
    reasons.push(...missing);
    return verdictOf('inconclusive');
  }

  const a = perComparison;
  const test = errorRate.test === 'fisher' ? "Fisher's exact" : 'z-test';
  check(
    'errorRate',
    errorRate.pValue < a && errorRate.difference > cfg.errorRateTolerance,
    `canary ${pct(errorRate.canary)} vs stable ${pct(errorRate.stable)} (${test} p=${pv(errorRate.pValue)}, alpha ${pv(a)}, tolerance +${pct(cfg.errorRateTolerance)})`,
  );

  for (const [metric, key] of [
    ['latencyP95', 'p95'],
    ['latencyP99', 'p99'],
  ] as const) {
    const c = latency.canary[key] as number,
      s = latency.stable[key] as number;
    check(
      metric,
      latency.pValue < a && c > s * (1 + cfg.latencyTolerance) && c - s > cfg.latencyToleranceMs,
      `canary ${key} ${ms(c)} vs stable ${ms(s)} (Mann–Whitney on ${latency.source} p=${pv(latency.pValue)}, alpha ${pv(a)}, tolerance +${pct(cfg.latencyTolerance)} and +${ms(cfg.latencyToleranceMs)})`,
    );
  }

  if (!quality || !quality.judged) {
    const unlabelled = (['stable', 'canary'] as const).filter((n) => (input[n].quality?.labelled ?? 0) < cfg.minLabelled);
    reasons.push(
      `quality not judged: ${unlabelled.join(' and ')} below minLabelled ${cfg.minLabelled} labelled predictions${cfg.qualityRequired ? ' (required)' : ''}`,
    );
    if (cfg.qualityRequired) return verdictOf('inconclusive');
  } else {
    const qt = quality.test === 'fisher' ? "Fisher's exact" : 'z-test';
    check(
      'quality',
      quality.pValue < a && quality.relativeDrop > cfg.rollbackThreshold,
      `canary ${pct(quality.canary)} vs stable ${pct(quality.stable)} correct over the canary so far (${quality.labelled.canary} and ${quality.labelled.stable} labels), relative drop ${pct(quality.relativeDrop)} (threshold ${pct(cfg.rollbackThreshold)}; ${qt} p=${pv(quality.pValue)}, alpha ${pv(a)})`,
    );
  }
  return verdictOf('pass');
}

/** `detail` text for a judgement: the failed check, or every line. */
export const judgementDetail = (j: CanaryJudgement): string => (j.failed ? `${j.failed.metric}: ${j.failed.detail}` : j.reasons.join('; '));
