/**
 * The rules of reports and retrain suggestions, pure: why a window report drifts (the reasons a
 * suggestion carries), what the index keeps of it, and which status transitions are allowed.
 */
import { AegisError } from '../../kernel/errors.js';
import type { WindowReport } from './detect.js';
import { SUGGESTION_TRANSITIONS, type DriftReportSummary, type SuggestionReason, type SuggestionStatus } from './records.js';

/**
 * One reason per failed check that makes the verdict `drift`: the dataset check (the share of
 * drifted features) first, then each drifted feature's failed statistics, the label and
 * prediction distributions, and a performance regression. Empty unless the verdict is `drift`.
 */
export function reasonsOf(r: WindowReport): SuggestionReason[] {
  if (r.verdict !== 'drift') return [];
  const out: SuggestionReason[] = [];
  if (r.datasetDrift) {
    out.push({ detector: 'dataset', metric: 'driftedShare', value: r.driftedShare, threshold: r.options.driftShare });
    for (const f of r.features) {
      if (!f.drift) continue;
      if (f.reasons.includes('js'))
        out.push({ detector: 'feature', feature: f.feature, metric: 'js', value: f.js, threshold: f.threshold });
      if (f.reasons.includes('missing-rate'))
        out.push({
          detector: 'feature',
          feature: f.feature,
          metric: 'missingRate',
          value: f.missingRate.current,
          threshold: r.options.missingRateChange,
        });
    }
  }
  if (r.label?.drift) out.push({ detector: 'label', metric: 'js', value: r.label.js, threshold: r.label.threshold });
  if (r.predictions?.drift) out.push({ detector: 'prediction', metric: 'js', value: r.predictions.js, threshold: r.predictions.threshold });
  const p = r.performance;
  if (p.regression && p.accuracy !== undefined && p.holdoutAccuracy !== undefined)
    out.push({ detector: 'performance', metric: 'accuracy', value: p.accuracy, threshold: p.holdoutAccuracy - p.tolerance });
  return out;
}

/** What the index keeps of a report, so lists need not read the object. */
export function summaryOf(r: WindowReport): DriftReportSummary {
  return {
    rows: r.rows,
    requests: r.window.requests,
    labelled: r.window.labelled,
    features: r.features.length,
    driftedFeatures: [...r.driftedFeatures],
    driftedShare: r.driftedShare,
    datasetDrift: r.datasetDrift,
    labelDrift: r.label ? r.label.drift : null,
    predictionDrift: r.predictions ? r.predictions.drift : null,
    performanceRegression: r.performance.regression,
    reasons: reasonsOf(r),
  };
}

/** 409 naming `status` unless SUGGESTION_TRANSITIONS allows `from` → `to`. */
export function assertTransition(suggestionId: string, from: SuggestionStatus, to: SuggestionStatus): void {
  if (SUGGESTION_TRANSITIONS[from].includes(to)) return;
  throw new AegisError('CONFLICT', `suggestion ${suggestionId} is ${from}: it cannot become ${to}`, {
    field: 'status',
    details: { status: from, requested: to },
  });
}

/** The decision's status; the reason is required (400 naming `reason`). */
export function decision(d: 'accept' | 'dismiss', reason: string): { status: 'accepted' | 'dismissed'; reason: string } {
  if (d !== 'accept' && d !== 'dismiss')
    throw new AegisError('VALIDATION_FAILED', `decision must be accept or dismiss, not ${String(d)}`, { field: 'decision' });
  const text = typeof reason === 'string' ? reason.trim() : '';
  if (!text) throw new AegisError('VALIDATION_FAILED', 'a reason is required to accept or dismiss a suggestion', { field: 'reason' });
  if (text.length > 2000) throw new AegisError('VALIDATION_FAILED', 'reason must be at most 2000 characters', { field: 'reason' });
  return { status: d === 'accept' ? 'accepted' : 'dismissed', reason: text };
}

/** A page's opaque cursor: the last item's creation time and id. */
export const encodeCursor = (at: string, id: string): string => Buffer.from(JSON.stringify([at, id]), 'utf8').toString('base64url');

/** The position a cursor names; 400 naming `cursor` when it is not one this service made. */
export function decodeCursor(cursor: string | undefined): { at: Date; id: string } | undefined {
  if (cursor === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') {
      const at = new Date(v[0]);
      if (!Number.isNaN(at.getTime())) return { at, id: v[1] };
    }
  } catch {
    // not base64url JSON: refused below
  }
  throw new AegisError('VALIDATION_FAILED', 'cursor is not a cursor of this list', { field: 'cursor' });
}

/** 400 naming `limit` unless 1 ≤ limit ≤ 500. */
export function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > 500)
    throw new AegisError('VALIDATION_FAILED', 'limit must be an integer from 1 to 500', { field: 'limit' });
  return limit;
}
