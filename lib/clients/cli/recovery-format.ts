/** Human-readable rebuild and parity reports (the CLI and the DR drill print the same text). */
import type { Difference, StorageParity } from '../../recovery/parity.js';
import type { Progress, RebuildReport } from '../../recovery/types.js';

const clip = (v: unknown, max = 100): string => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
};

export function formatRebuildReport(r: RebuildReport): string {
  const lines = [
    `${r.problems.length ? 'REBUILT WITH PROBLEMS' : 'REBUILT'}  ${r.keys} key(s), ${r.datasets} dataset(s), ${r.artifacts.fromArchive + r.artifacts.fromStorage} artifact(s) (${r.artifacts.fromArchive} from the audit archive, ${r.artifacts.fromStorage} from storage only), ${r.auditEvents} audit event(s)`,
    `  audit chain restored through seq ${r.auditEvents} (archive checkpointed through ${r.archivedThrough}); the next event links to it`,
    `  trust ${r.trust.pinned ? `pinned (root ${r.trust.rootKid})` : `NOT pinned: self-certified by ${r.trust.rootKid} (pass --trusted-keys)`}`,
    `  durations ${Object.entries(r.durationsMs)
      .map(([p, ms]) => `${p} ${ms} ms`)
      .join(', ')}`,
  ];
  if (r.restoredFromStorage.length) {
    lines.push(`  restored from storage, ${r.restoredFromStorage[0]!.note} (no audit events for them):`);
    for (const a of r.restoredFromStorage)
      lines.push(
        `    ${a.modelName} v${a.version}  ${a.artifactId}  signed ${a.signedAt}${a.signedBeforeArchiveEnd ? '  (signed before the archive ends: likely a registration that crashed before its commit)' : ''}`,
      );
  }
  if (r.problems.length) {
    lines.push(`  problems (${r.problems.length}; each item was NOT restored or cannot work):`);
    for (const p of r.problems) lines.push(`    ${p.problem.padEnd(26)} ${p.kind} ${p.id}: ${p.detail}`);
  }
  if (r.orphans.length) {
    lines.push(`  orphans (${r.orphans.length}; left in storage, not restored):`);
    for (const o of r.orphans) lines.push(`    ${o.kind.padEnd(20)} ${o.keys.join(', ')}: ${o.detail}`);
  }
  if (r.pendingUploads.length) {
    lines.push(`  pending uploads (${r.pendingUploads.length}; awaiting registration, not restored, expire on schedule):`);
    for (const k of r.pendingUploads) lines.push(`    ${k}`);
  }
  if (r.warnings.length) {
    lines.push(`  warnings (${r.warnings.length}):`);
    for (const w of r.warnings) lines.push(`    ${w}`);
  }
  lines.push('  never restored:', ...r.notRestored.map((n) => `    ${n}`));
  return lines.join('\n');
}

export function formatDifferences(diffs: readonly Difference[]): string[] {
  return diffs.map((d) =>
    d.field === undefined
      ? `  ${d.kind} ${d.id}: only in the ${d.left === null ? 'other' : 'configured'} registry`
      : `  ${d.kind} ${d.id} ${d.field}: ${clip(d.left)} ≠ ${clip(d.right)}`,
  );
}

export function formatStorageParity(p: StorageParity): string[] {
  return [
    ...p.issues.map((i) => `  ${i.kind.padEnd(20)} ${i.key}${i.versionId ? ` (${i.versionId})` : ''}: ${i.detail}`),
    ...p.pendingUploads.map(
      (u) =>
        `  ${'pending-upload'.padEnd(20)} ${u.key} (${u.versionId}): ${u.size} bytes uploaded ${u.lastModified}, awaiting registration or expiry (${u.evidence.join(', ')}); not an issue`,
    ),
  ];
}

/** Progress lines for stderr: every phase, and per-item counts about every 2 s and at the end. */
export function progressPrinter(write: (line: string) => void): (p: Progress) => void {
  let last = 0;
  return (p) => {
    if (p.done === undefined) return write(`${p.phase}: ${p.message}`);
    const now = Date.now();
    if (p.done !== p.total && now - last < 2000) return;
    last = now;
    write(`${p.phase}: ${p.message} ${p.done}/${p.total}`);
  };
}
