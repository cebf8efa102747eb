/** Human-readable sizes and reports for the CLI. */
import type { VerificationReply } from '../../platform/http/schemas.js';

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

/** A verification report as `GET /v1/artifacts/{id}/validate` and `POST /v1/registry/verify-manifest` answer it. */
export function formatReport(r: VerificationReply): string {
  const lines = [`${r.ok ? 'VERIFIED' : 'FAILED'}  artifact ${r.artifactId ?? '?'}  signer ${r.signerId ?? '?'}`];
  for (const c of r.checks) {
    lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.check}${c.reason ? `: ${c.reason}` : ''}`);
    if (!c.ok && c.expected !== undefined) lines.push(`         expected ${c.expected}`, `         actual   ${c.actual}`);
  }
  return lines.join('\n');
}
