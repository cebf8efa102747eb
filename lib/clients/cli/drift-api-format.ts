/** The readable output of the drift commands that talk to the server (`aegis drift run|reports|show|suggestions|accept|dismiss`). */
import type { DriftReportReply, DriftReportsReply, DriftRunReply, DriftSuggestionReply } from '../../platform/http/schemas.js';

type Run = DriftRunReply['run'];
type ReportRecord = DriftReportsReply['reports'][number];
type Suggestion = DriftSuggestionReply['suggestion'];
type Reason = Suggestion['reasons'][number];

const num = (v: unknown, digits = 4): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '-');
const pad = (cells: string[], widths: number[]): string =>
  cells
    .map((c, i) => c.padEnd(widths[i]!))
    .join('  ')
    .trimEnd();

/** Rows under a header, each column as wide as its widest cell. */
export function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [pad(head, widths), ...rows.map((r) => pad(r, widths))];
}

export const reasonText = (r: Reason): string =>
  `${r.detector}${r.feature ? ` ${r.feature}` : ''} ${r.metric} ${num(r.value)} (threshold ${num(r.threshold)})`;

export function describeRun(r: Run): string[] {
  return [
    `run ${r.runId}  ${r.model}/${r.env}  ${r.status.toUpperCase()}`,
    `  window ${r.from} → ${r.to}  (${r.trigger} by ${r.requestedBy})`,
    `  artifact ${r.artifactId ?? '-'}  shards ${r.shards ?? '-'}${r.finishedAt ? `  finished ${r.finishedAt}` : ''}`,
    ...(r.error ? [`  error ${r.error}`] : []),
  ];
}

/** A report record's summary: verdict, counts, drifted features, reasons, suggestion. */
export function describeRecord(r: ReportRecord): string[] {
  const s = r.summary;
  return [
    `report ${r.reportId}  ${r.model}/${r.env}  ${r.verdict.toUpperCase()}  (artifact ${r.artifactId})`,
    `  window ${r.from} → ${r.to}: ${s.rows} rows, ${s.requests} requests, ${s.labelled} labelled`,
    `  drifted features ${s.driftedFeatures.length}/${s.features}${s.driftedFeatures.length ? ` (${s.driftedFeatures.join(', ')})` : ''}` +
      `; label ${s.labelDrift === null ? '-' : s.labelDrift ? 'drift' : 'no drift'}, predictions ${s.predictionDrift === null ? '-' : s.predictionDrift ? 'drift' : 'no drift'}` +
      `${s.performanceRegression ? ', performance regressed' : ''}`,
    ...s.reasons.map((x) => `  reason: ${reasonText(x)}`),
    `  suggestion ${r.suggestionId ?? 'none'}`,
  ];
}

export function formatReports(r: DriftReportsReply): string {
  const rows = r.reports.map((x) => [
    x.reportId,
    `${x.model}/${x.env}`,
    `${x.from} → ${x.to}`,
    x.verdict,
    `${x.summary.driftedFeatures.length}/${x.summary.features}`,
    x.suggestionId ?? '-',
  ]);
  return [
    `${r.reports.length} report(s)`,
    ...(rows.length ? table(['report', 'deployment', 'window', 'verdict', 'drifted', 'suggestion'], rows) : []),
    ...(r.nextCursor ? [`more: --cursor ${r.nextCursor}`] : []),
  ].join('\n');
}

export function describeSuggestion(s: Suggestion): string[] {
  return [
    `suggestion ${s.suggestionId}  ${s.model}/${s.env}  ${s.status.toUpperCase()}`,
    `  serving ${s.servingArtifactId}  raised ${s.createdAt} by report ${s.reportId}${s.reportIds.length > 1 ? ` (+${s.reportIds.length - 1} later)` : ''}`,
    ...s.reasons.map((x) => `  reason: ${reasonText(x)}`),
    ...(s.statusAt ? [`  ${s.status} by ${s.statusBy ?? '-'} at ${s.statusAt}: ${s.statusReason ?? ''}`] : []),
    ...(s.resolvedBy ? [`  resolved by artifact ${s.resolvedBy.artifactId} (promotion ${s.resolvedBy.promotionId})`] : []),
    ...(s.status === 'open' || s.status === 'accepted'
      ? [`  retrain: aegis retrain --suggestion ${s.suggestionId} --dataset id@version=PATH`]
      : []),
  ];
}

// ---- one report in full (`aegis drift show`) ----

interface FeatureView {
  feature: string;
  kind: string;
  rows?: number;
  js?: number;
  threshold?: number;
  drift?: boolean;
  reasons?: string[];
  histograms?: { edges?: number[]; categories?: string[]; reference: number[]; current: number[] };
}

/** The bins' names: `< e0`, `[e0, e1)`, …, `≥ ek` for numeric features; the categories, `__other__`, `__missing__` otherwise. */
function binLabels(h: NonNullable<FeatureView['histograms']>): string[] {
  if (h.categories) return [...h.categories, '__other__', '__missing__'];
  const e = (h.edges ?? []).map((x) => String(Number(x.toPrecision(4))));
  return [`< ${e[0]}`, ...e.slice(1).map((x, i) => `[${e[i]}, ${x})`), `≥ ${e[e.length - 1]}`];
}

const BAR = 20;

/** Reference vs current shares per bin, as two bars scaled to the largest share. */
export function histogramText(h: NonNullable<FeatureView['histograms']>): string[] {
  const share = (c: number[]) => {
    const total = c.reduce((a, b) => a + b, 0);
    return c.map((x) => (total ? x / total : 0));
  };
  const ref = share(h.reference);
  const cur = share(h.current);
  const top = Math.max(...ref, ...cur, Number.EPSILON);
  const bar = (v: number) => '#'.repeat(Math.round((v / top) * BAR)).padEnd(BAR);
  const labels = binLabels(h);
  const rows = labels.map((l, i) => [
    l,
    `${bar(ref[i] ?? 0)} ${num((ref[i] ?? 0) * 100, 1)}%`,
    `${bar(cur[i] ?? 0)} ${num((cur[i] ?? 0) * 100, 1)}%`,
  ]);
  return table(['bin', 'reference', 'current'], rows).map((l) => `    ${l}`);
}

export function formatReport(r: DriftReportReply): string {
  const features = (Array.isArray(r.report.features) ? r.report.features : []) as FeatureView[];
  const rows = features.map((f) => [
    f.feature,
    f.kind,
    String(f.rows ?? '-'),
    num(f.js),
    num(f.threshold),
    f.drift ? 'YES' : 'no',
    (f.reasons ?? []).join(', ') || '-',
  ]);
  const drifted = features.filter((f) => f.drift && f.histograms);
  return [
    ...describeRecord(r.record),
    '',
    ...table(['feature', 'kind', 'rows', 'JS', 'threshold', 'drift', 'reasons'], rows),
    ...drifted.flatMap((f) => ['', `  ${f.feature}: reference vs current`, ...histogramText(f.histograms!)]),
    '',
    `verdict: ${r.record.verdict.toUpperCase()}${r.record.suggestionId ? `  suggestion ${r.record.suggestionId}` : ''}`,
  ].join('\n');
}
