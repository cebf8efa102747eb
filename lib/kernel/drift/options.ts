/**
 * The drift detectors' defaults and the options that override them (per model, and per
 * feature under `features`). Decisions use effect sizes only; p-values are reported.
 */

export interface FeatureOverride {
  /** the Jensen–Shannon distance (base 2) at or above which this feature drifts */
  threshold?: number;
  /** leave the feature out of the decision (still reported) */
  ignore?: boolean;
}

export interface DriftOptions {
  /** rows a window needs before anything is decided (fewer: `insufficient-data`) */
  minRows: number;
  /** JS distance (base 2) on the baseline's bins at or above which a numeric feature drifts */
  numericThreshold: number;
  /** JS distance (base 2) on the categories (+ `__other__`) at or above which a categorical feature drifts */
  categoricalThreshold: number;
  /** JS distance (base 2) of the label distribution at or above which the label drifts */
  labelThreshold: number;
  /** JS distance (base 2) of the prediction-score histogram at or above which predictions drift */
  predictionThreshold: number;
  /** absolute change of a feature's missing rate (missing + type-mismatched values) that is drift */
  missingRateChange: number;
  /** dataset drift when at least this share of the features drift … */
  driftShare: number;
  /** … or any of the baseline's first `topFeatureCount` top features does */
  topFeatureCount: number;
  /** performance regression: labelled rows needed, tolerance below holdout, one-sided alpha */
  minLabelled: number;
  tolerance: number;
  alpha: number;
  features: Record<string, FeatureOverride>;
}

/**
 * The defaults. JS 0.1 is NannyML's default; the label threshold is lower because a 10-point
 * change of a binary rate (50 % → 60 %) is a JS distance of only 0.085, while with no drift a
 * 5,000-row window stays below 0.02 (measured by test/unit/drift-simulation.test.ts).
 */
export const DRIFT_DEFAULTS: DriftOptions = {
  minRows: 1000,
  numericThreshold: 0.1,
  categoricalThreshold: 0.1,
  labelThreshold: 0.05,
  predictionThreshold: 0.1,
  missingRateChange: 0.1,
  driftShare: 0.5,
  topFeatureCount: 3,
  minLabelled: 200,
  tolerance: 0.02,
  alpha: 0.01,
  features: {},
};

/** Defaults overridden by `partial` (unknown keys are the caller's to refuse). */
export function resolveOptions(partial: Partial<DriftOptions> = {}): DriftOptions {
  const o: DriftOptions = { ...DRIFT_DEFAULTS, ...partial, features: { ...partial.features } };
  for (const [k, v] of Object.entries(o)) {
    if (k === 'features') continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new RangeError(`drift option ${k} must be a non-negative number, got ${String(v)}`);
  }
  if (o.driftShare > 1) throw new RangeError('drift option driftShare must be at most 1');
  return o;
}
