/** The readable table of `aegis drift compare` (without --json). */
import type { DriftReport, FeatureReport } from '../../kernel/drift/report.js';

export interface Finding {
  finding: 'type-mismatch';
  column: string;
  file: string;
  count: number;
  first?: { line: number; value: string };
}

type CompareReport = DriftReport & { reference: string; current: string; labelColumn: string | null; findings: Finding[] };

const num = (v: number | null | undefined, digits = 4): string => (v === null || v === undefined ? '-' : v.toFixed(digits));
const p = (v: number | undefined): string => (v === undefined ? '-' : v.toPrecision(3));
const pad = (cells: string[], widths: number[]): string =>
  cells
    .map((c, i) => c.padEnd(widths[i]!))
    .join('  ')
    .trimEnd();

function row(f: FeatureReport): string[] {
  if (f.kind === 'numeric')
    return [
      f.feature,
      'numeric',
      num(f.js),
      num(f.psi),
      num(f.wassersteinRawSigma ?? f.wassersteinSigma),
      f.ks ? `${num(f.ks.statistic)} p=${p(f.ks.pValue)}` : `${num(f.binnedKs.statistic)} p=${p(f.binnedKs.pValue)} (binned)`,
      '-',
      num(f.missingRate.current - f.missingRate.reference, 3),
      f.drift ? `YES (${f.reasons.join(', ')})` : 'no',
    ];
  const unseen = f.unseen.length ? ` new: ${f.unseen.map((u) => `${u.category} ${(u.share * 100).toFixed(1)}%`).join(', ')}` : '';
  return [
    f.feature,
    'categorical',
    num(f.js),
    '-',
    '-',
    '-',
    `${num(f.chiSquare.statistic, 1)} df=${f.chiSquare.df} p=${p(f.chiSquare.pValue)}`,
    num(f.missingRate.current - f.missingRate.reference, 3),
    (f.drift ? `YES (${f.reasons.join(', ')})` : 'no') + unseen,
  ];
}

export function formatReport(r: CompareReport): string {
  const head = ['column', 'type', 'JS(base2)', 'PSI', 'W1/σ', 'KS', 'chi-square', 'Δmissing', 'drift'];
  const rows = r.features.map(row);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
  const lines = [
    `reference ${r.reference}  current ${r.current}  (${r.rows} rows)`,
    '',
    pad(head, widths),
    ...rows.map((x) => pad(x, widths)),
    '',
  ];
  if (r.label)
    lines.push(
      `label column ${JSON.stringify(r.labelColumn)}: JS ${num(r.label.js)} (threshold ${r.label.threshold}) drift ${r.label.drift ? 'YES' : 'no'}`,
    );
  for (const f of r.findings)
    lines.push(
      `type-mismatch: ${f.column} in ${f.file}: ${f.count} text value(s)${f.first ? `, first at line ${f.first.line}: ${JSON.stringify(f.first.value)}` : ''}`,
    );
  lines.push(
    `drifted features: ${r.driftedFeatures.length}/${r.features.length}${r.driftedFeatures.length ? ` (${r.driftedFeatures.join(', ')})` : ''}`,
  );
  const why = r.datasetReasons.length ? ` (${r.datasetReasons.join(', ')})` : '';
  lines.push(
    `verdict: ${r.verdict.toUpperCase()}${why}${r.status === 'insufficient-data' ? ` — fewer than ${r.options.minRows} rows, nothing decided` : ''}`,
  );
  return lines.join('\n');
}
