/** How `aegis drift sample` shows a window's run and report, and the suggestion. */
import type { DriftReportRecord, DriftRun, RetrainSuggestion } from '../../modules/drift/records.js';
import { fmt, reasonsText } from './drift-sample-streams.js';
import type { Served } from './drift-sample-steps.js';

/** The report body is read loosely: the fields shown, whatever else it holds. */
interface ReportFeature {
  feature?: string;
  js?: number;
  threshold?: number;
  drift?: boolean;
}

const yesNo = (v: boolean | null) => (v === null ? 'n/a' : v ? 'yes' : 'no');

/** One feature a line: its JS distance (base 2) against its threshold. */
function featureLines(report: Record<string, unknown> | undefined): string[] {
  const features = Array.isArray(report?.features) ? (report.features as ReportFeature[]) : [];
  return features.map(
    (f) =>
      `    ${String(f.feature).padEnd(14)} js ${typeof f.js === 'number' ? fmt(f.js) : '?'} ${f.drift ? '≥' : '<'} ${typeof f.threshold === 'number' ? fmt(f.threshold) : '?'}${f.drift ? '  DRIFT' : ''}`,
  );
}

export function describeWindow(
  name: string,
  w: { from: Date; to: Date; served: Served },
  run: DriftRun,
  record: DriftReportRecord | undefined,
  report: Record<string, unknown> | undefined,
): string[] {
  const head = `  ${name} window [${w.from.toISOString()}, ${w.to.toISOString()}): sent ${w.served.rows} rows in ${w.served.requests} requests, ${w.served.labels} labels`;
  if (!record) return [head, `    run ${run.runId} ${run.status}${run.error ? `: ${run.error}` : ''}: no report`];
  const s = record.summary;
  const counted =
    s.requests < w.served.requests
      ? `  (counted ${s.requests} of ${w.served.requests} requests: a sample rate below 1, or segments not yet written)`
      : '';
  return [
    head,
    `    run ${run.runId} ${run.status}, report ${record.reportId}: ${record.verdict.toUpperCase()}${counted}`,
    `    rows ${s.rows} in ${s.requests} requests, ${s.labelled} labelled; drifted features ${s.driftedFeatures.join(', ') || 'none'} (share ${fmt(s.driftedShare)})`,
    `    dataset drift ${yesNo(s.datasetDrift)}, label drift ${yesNo(s.labelDrift)}, prediction drift ${yesNo(s.predictionDrift)}, performance regression ${yesNo(s.performanceRegression)}`,
    ...featureLines(report),
    `    reasons: ${reasonsText(record)}`,
    `    suggestion: ${record.suggestionId ?? 'none'}`,
  ];
}

export function describeSuggestion(s: RetrainSuggestion | undefined): string[] {
  if (!s) return ['  suggestion: none raised'];
  return [
    `  suggestion ${s.suggestionId}: ${s.status.toUpperCase()} (retrain ${s.model} in ${s.env}, serving ${s.servingArtifactId})`,
    `    raised by report ${s.reportId} at ${s.createdAt}; reports ${s.reportIds.join(', ')}`,
    ...s.reasons.map(
      (r) => `    reason: ${r.detector}${r.feature ? ` ${r.feature}` : ''} ${r.metric} ${fmt(r.value)} (threshold ${fmt(r.threshold)})`,
    ),
    `    signed by ${s.signature.signerId} (${s.signature.alg}) at ${s.signature.ts}`,
    `    next: aegis retrain --from ${s.servingArtifactId} --suggestion ${s.suggestionId} --dataset ID@VERSION=PATH; or aegis drift accept|dismiss ${s.suggestionId} --reason …`,
  ];
}
