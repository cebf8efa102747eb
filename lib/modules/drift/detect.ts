/**
 * A window's drift report body: the kernel's detectors (`kernel/drift/decide.ts`) on the
 * window's counts, each feature with both histograms on the baseline's bins, and what the
 * window read but did not count. Pure: the same window, baseline and options give the same body.
 */
import type { BaselineProfile } from '../../kernel/baseline-profile.js';
import { detectDrift } from '../../kernel/drift/decide.js';
import type { DriftOptions } from '../../kernel/drift/options.js';
import type { DriftReport, FeatureReport } from '../../kernel/drift/report.js';
import type { ServingWindow } from './domain.js';

export const WINDOW_REPORT_FORMAT = 'aegis.drift-window-report/v1';

/** Reference and current counts on the baseline's bins: `edges` (numeric, open tails) or `categories` then `__other__`, `__missing__`. */
export type Histograms =
  | { edges: number[]; reference: number[]; current: number[]; missing: { reference: number; current: number } }
  | { categories: string[]; reference: number[]; current: number[] };

export type FeatureDrift = FeatureReport & { histograms: Histograms };

export interface WindowReport extends Omit<DriftReport, 'features'> {
  reportFormat: typeof WINDOW_REPORT_FORMAT;
  /** what the window read: segments, lines, requests, what it skipped and why (no counts: those are in `features`) */
  window: Omit<ServingWindow, 'profile'>;
  features: FeatureDrift[];
  /** label and prediction-score histograms, when the baseline has them */
  labelHistogram?: { categories: string[]; reference: number[]; current: number[] };
  predictionHistogram?: { edges: number[]; reference: number[]; current: number[] };
}

function histograms(baseline: BaselineProfile, window: ServingWindow, name: string): Histograms {
  const ref = baseline.features[name]!;
  const cur = window.profile.features[name]!;
  if (ref.kind === 'numeric' && cur.kind === 'numeric')
    return { edges: ref.edges, reference: ref.counts, current: cur.counts, missing: { reference: ref.missing, current: cur.missing } };
  if (ref.kind === 'categorical' && cur.kind === 'categorical')
    return { categories: ref.categories, reference: ref.counts, current: cur.counts };
  throw new RangeError(`window feature ${name} does not match its baseline`);
}

/** Runs every detector on the window against the serving artifact's baseline. */
export function detectWindow(window: ServingWindow, baseline: BaselineProfile, options: Partial<DriftOptions> = {}): WindowReport {
  const report = detectDrift(baseline, window.profile, options);
  const { profile: _profile, ...counts } = window;
  const { label, predictions } = window.profile;
  return {
    reportFormat: WINDOW_REPORT_FORMAT,
    ...report,
    window: counts,
    features: report.features.map((f) => ({ ...f, histograms: histograms(baseline, window, f.feature) })),
    ...(baseline.label && label
      ? { labelHistogram: { categories: baseline.label.categories, reference: baseline.label.counts, current: label.counts } }
      : {}),
    ...(baseline.predictions && predictions
      ? { predictionHistogram: { edges: baseline.predictions.edges, reference: baseline.predictions.counts, current: predictions.counts } }
      : {}),
  };
}
