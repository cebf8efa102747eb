/**
 * The drift decision for one window against a baseline: every detector, the dataset-level rule
 * (a share of drifted features, or any top feature), and the overall verdict. Pure.
 */
import type { BaselineProfile } from '../baseline-profile.js';
import { categoricalDrift, unseenList } from './categorical.js';
import { numericDrift } from './numeric.js';
import { resolveOptions, type DriftOptions } from './options.js';
import { performanceDrift } from './performance.js';
import { REPORT_FORMAT, type DistributionReport, type DriftReport, type FeatureReport } from './report.js';
import { jsDistance } from './statistics.js';
import type { WindowProfile } from './window.js';

/** Raw samples per numeric feature (each sorted ascending), for the exact KS and Wasserstein. */
export type RawSamples = Record<string, { reference: Float64Array; current: Float64Array }>;

export const DRIFT_METHODS: Record<string, string> = {
  js: 'Jensen–Shannon distance, base 2 (0…1), on the baseline bins; gates the decision',
  psi: 'Σ (q−p)·ln(q/p), natural log, each side smoothed as (c + 0.5)/(n + 0.5·B)',
  wassersteinSigma: 'Wasserstein-1 of the binned CDFs (inner bins at midpoints, tails half a bin width beyond the edges) ÷ reference std',
  binnedKs: 'largest CDF gap at a bin boundary; p from kstwo.sf(D, round(n1·n2/(n1+n2)))',
  ks: "two-sample KS on raw samples as scipy ks_2samp(method='auto'): exact when max(n1, n2) ≤ 10000, else asymptotic",
  chiSquare: 'Pearson homogeneity on the 2×k table, no correction; columns with an expected count < 5 pooled into __other__',
  performance:
    "accuracy below holdout by > tolerance AND the judge's one-sided test of incorrect fractions p < alpha; AUC, log loss reported",
};

function featureReports(baseline: BaselineProfile, window: WindowProfile, o: DriftOptions, raw?: RawSamples): FeatureReport[] {
  return baseline.featureOrder.map((name) => {
    const ref = baseline.features[name]!;
    const cur = window.features[name];
    if (!cur || cur.kind !== ref.kind) throw new RangeError(`window feature ${name} is missing or not ${ref.kind}`);
    const over = o.features[name] ?? {};
    const common = { feature: name, missingRateChange: o.missingRateChange };
    if (ref.kind === 'numeric' && cur.kind === 'numeric') {
      const r = raw?.[name];
      return numericDrift({
        ...common,
        reference: ref,
        current: cur,
        threshold: over.threshold ?? o.numericThreshold,
        ...(r ? { raw: r } : {}),
      });
    }
    if (ref.kind === 'categorical' && cur.kind === 'categorical')
      return categoricalDrift({ ...common, reference: ref, current: cur, threshold: over.threshold ?? o.categoricalThreshold });
    throw new RangeError(`window feature ${name} does not match its baseline`);
  });
}

function labelReport(baseline: BaselineProfile, window: WindowProfile, threshold: number): DistributionReport | undefined {
  if (!baseline.label || !window.label) return undefined;
  const unseenTotal = Object.values(window.label.unseen).reduce((s, c) => s + c, 0);
  // an unseen label value is its own bin, empty in the reference
  const js = jsDistance([...baseline.label.counts, 0], [...window.label.counts, unseenTotal]);
  const rows = window.label.counts.reduce((s, c) => s + c, 0) + unseenTotal;
  if (rows === 0) return undefined;
  return { js, threshold, drift: js >= threshold, unseen: unseenList(window.label.unseen, rows) };
}

function predictionReport(baseline: BaselineProfile, window: WindowProfile, threshold: number): DistributionReport | undefined {
  if (!baseline.predictions || !window.predictions) return undefined;
  if (window.predictions.counts.every((c) => c === 0)) return undefined;
  const js = jsDistance(baseline.predictions.counts, window.predictions.counts);
  return { js, threshold, drift: js >= threshold };
}

/**
 * Compares a window with the baseline. A window under `minRows` rows is `insufficient-data`:
 * every statistic is reported, nothing drifts. Options override {@link DRIFT_DEFAULTS}.
 */
export function detectDrift(
  baseline: BaselineProfile,
  window: WindowProfile,
  options: Partial<DriftOptions> = {},
  raw?: RawSamples,
): DriftReport {
  const o = resolveOptions(options);
  const enough = window.rows >= o.minRows;
  const features = featureReports(baseline, window, o, raw);
  const label = labelReport(baseline, window, o.labelThreshold);
  const predictions = predictionReport(baseline, window, o.predictionThreshold);
  const performance = performanceDrift({
    counts: window.performance,
    holdout: baseline.holdoutMetrics,
    minLabelled: o.minLabelled,
    tolerance: o.tolerance,
    alpha: o.alpha,
  });
  if (!enough) for (const r of [...features, label, predictions]) if (r) r.drift = false;
  if (!enough) performance.regression = false;
  const judged = features.filter((f) => !o.features[f.feature]?.ignore);
  const drifted = judged.filter((f) => f.drift).map((f) => f.feature);
  const share = judged.length ? drifted.length / judged.length : 0;
  const datasetReasons: string[] = [];
  if (drifted.length > 0 && share >= o.driftShare) datasetReasons.push('share');
  for (const t of (baseline.topFeatures ?? []).slice(0, o.topFeatureCount))
    if (drifted.includes(t)) datasetReasons.push(`top-feature:${t}`);
  const datasetDrift = datasetReasons.length > 0;
  const drift = datasetDrift || !!label?.drift || !!predictions?.drift || performance.regression;
  return {
    format: REPORT_FORMAT,
    status: enough ? 'ok' : 'insufficient-data',
    rows: window.rows,
    features,
    driftedFeatures: drifted,
    driftedShare: share,
    datasetDrift,
    datasetReasons,
    ...(label ? { label } : {}),
    ...(predictions ? { predictions } : {}),
    performance,
    drift,
    verdict: enough ? (drift ? 'drift' : 'no-drift') : 'insufficient-data',
    options: o,
    methods: DRIFT_METHODS,
  };
}
