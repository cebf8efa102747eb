/** Human-readable sizes and reports for the CLI. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export interface ReportLike {
  ok: boolean;
  artifactId: string | null;
  signerId: string | null;
  checks: { check: string; ok: boolean; reason?: string; expected?: string | number; actual?: string | number }[];
}

export function formatReport(r: ReportLike): string {
  const lines = [`${r.ok ? 'VERIFIED' : 'FAILED'}  artifact ${r.artifactId ?? '?'}  signer ${r.signerId ?? '?'}`];
  for (const c of r.checks) {
    lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.check}${c.reason ? `: ${c.reason}` : ''}`);
    if (!c.ok && c.expected !== undefined) lines.push(`         expected ${c.expected}`, `         actual   ${c.actual}`);
  }
  return lines.join('\n');
}
