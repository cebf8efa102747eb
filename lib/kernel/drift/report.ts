/** The shapes of a drift report (`aegis.drift-report/v1`). */
import type { ChiSquareResult } from './statistics.js';
import type { KsResult } from './ks.js';
import type { DriftOptions } from './options.js';

export const REPORT_FORMAT = 'aegis.drift-report/v1';
export type Status = 'ok' | 'insufficient-data';

export interface MissingRate {
  reference: number;
  current: number;
}

export interface NumericReport {
  feature: string;
  kind: 'numeric';
  /** non-missing current values */
  rows: number;
  /** Jensen–Shannon distance, base 2, on the baseline's bins (the gated statistic) */
  js: number;
  threshold: number;
  psi: number;
  /** Wasserstein-1 on the binned CDFs ÷ the reference std (null for a constant reference) */
  wassersteinSigma: number | null;
  binnedKs: { statistic: number; pValue: number };
  /** on raw samples, when given */
  ks?: KsResult;
  wassersteinRawSigma?: number | null;
  missingRate: MissingRate;
  /** current values that are not numbers (a type mismatch) */
  invalid: number;
  drift: boolean;
  reasons: string[];
}

export interface UnseenCategory {
  category: string;
  count: number;
  share: number;
}

export interface CategoricalReport {
  feature: string;
  kind: 'categorical';
  rows: number;
  js: number;
  threshold: number;
  chiSquare: ChiSquareResult;
  /** values the baseline does not name, largest first */
  unseen: UnseenCategory[];
  unseenShare: number;
  missingRate: MissingRate;
  drift: boolean;
  reasons: string[];
}

export type FeatureReport = NumericReport | CategoricalReport;

export interface DistributionReport {
  js: number;
  threshold: number;
  drift: boolean;
  unseen?: UnseenCategory[];
}

export interface PerformanceReport {
  status: 'ok' | 'no-labels' | 'insufficient-labels' | 'no-holdout';
  labelled: number;
  accuracy?: number;
  holdoutAccuracy?: number;
  z?: number;
  pValue?: number;
  auc?: number;
  holdoutAuc?: number;
  logLoss?: number;
  holdoutLogLoss?: number;
  tolerance: number;
  regression: boolean;
}

export interface DriftReport {
  format: typeof REPORT_FORMAT;
  status: Status;
  rows: number;
  features: FeatureReport[];
  driftedFeatures: string[];
  driftedShare: number;
  datasetDrift: boolean;
  /** why the dataset drifts: `share` and/or `top-feature:<name>` */
  datasetReasons: string[];
  label?: DistributionReport;
  predictions?: DistributionReport;
  performance: PerformanceReport;
  drift: boolean;
  verdict: 'drift' | 'no-drift' | 'insufficient-data';
  options: DriftOptions;
  methods: Record<string, string>;
}
