/**
 * Disaster-recovery drill (runbooks/dr_drill.md): back a local registry up, lose the
 * database, rebuild it from the object-store snapshot alone, and prove the rebuilt registry
 * equals the database backup.
 *
 *   scripts/dr_drill.sh [--artifacts N] [--data-dir DIR] [--keep]
 *
 * --data-dir DIR  an existing (stopped) data folder as the source; only read and archived,
 *                 populated only when --artifacts is given. Default: a new temp folder
 *                 populated with --artifacts (default 25).
 * --keep          keep the work folder (backup, rebuilt and dump folders) for inspection.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatRebuildReport, formatDifferences, formatStorageParity, progressPrinter } from '../lib/clients/cli/recovery-format.js';
import { loadCheckedConfig } from '../lib/platform/config.js';
import { ADMIN_TOKEN_FILE, startLocal } from '../lib/platform/composition/local-start.js';
import { openDatabase, openRecoveryTarget, type RecoveryTarget } from '../lib/platform/composition/recovery.js';
import { diffSnapshots, registrySnapshot, storageParity, type Difference, type StorageParity } from '../lib/recovery/parity.js';
import { rebuildIndex, type RebuildReport } from '../lib/recovery/rebuild.js';
import { apiClient, copyTree, populate, removeTree, timed, type Populated } from './dr-drill-steps.js';

const { values: args } = parseArgs({
  options: { artifacts: { type: 'string' }, 'data-dir': { type: 'string' }, keep: { type: 'boolean', default: false } },
});
const n = args.artifacts === undefined ? (args['data-dir'] ? 0 : 25) : Number(args.artifacts);
if (!Number.isInteger(n) || n < 0) {
  process.stderr.write('dr-drill: --artifacts must be a non-negative integer\n');
  process.exit(2);
}
const log = (m: string) => process.stderr.write(`dr-drill: ${m}\n`);
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
// The drill is local by design (it copies PGlite and store folders): nothing is taken from
// the caller's environment, so a configured bucket or database URL is never touched.
const configFor = (dataDir: string) =>
  loadCheckedConfig({ DEV_ALLOW_EPHEMERAL: 'true', NODE_ENV: 'development', AEGIS_DATA_DIR: dataDir, PORT: '0' });

const work = await mkdtemp(join(tmpdir(), 'aegis-dr-drill-'));
const sourceDir = args['data-dir'] ? resolve(args['data-dir']) : join(work, 'source');
const backupDir = join(work, 'backup');
const rebuiltDir = join(work, 'rebuilt');
const dumpDir = join(work, 'restored-dump');
const durations = new Map<string, number>();
const failures: string[] = [];

let populated: Populated = { datasets: 0, artifacts: 0, rotations: 0, pendingUploads: 0 };
let archivedThrough = 0;
let rebuild: RebuildReport | undefined;
let chain = '';
let manifests = { ok: 0, total: 0 };
let diffs: Difference[] = [];
let storage: StorageParity | undefined;
let resumed = '';
let target: RecoveryTarget | undefined;

try {
  await timed(durations, '1 source: populate over HTTP, archive the audit log', async () => {
    log(`source registry in ${sourceDir}`);
    const running = await startLocal(configFor(sourceDir), { logger: quiet });
    try {
      const token = running.newAdminToken ?? readFileSync(join(sourceDir, ADMIN_TOKEN_FILE), 'utf8').trim();
      const api = apiClient(running.url, token);
      if (n > 0) {
        log(`populating: datasets, ${n} registrations, a manifest key rotation`);
        populated = await populate(api, n);
      }
      const archived = await api('POST', '/v1/audit/archive');
      if (archived.status !== 200) throw new Error(`archive: HTTP ${archived.status}`);
      archivedThrough = archived.body.archivedThrough;
    } finally {
      await running.close(); // archives once more: nothing is left unarchived
    }
  });

  await timed(durations, '2 backup: database folder copy + object-store snapshot', async () => {
    // The database backup is a physical copy of the closed PGlite folder (what an Aurora
    // snapshot is on AWS); the object-store snapshot is the artifact store, the audit archive
    // and the key files (on AWS the keys live in KMS, which survives the database).
    for (const part of ['pg', 'objects', 'audit-archive', 'keys']) {
      if (existsSync(join(sourceDir, part))) await copyTree(join(sourceDir, part), join(backupDir, part));
    }
  });

  await timed(durations, '3 restore objects into a fresh folder, rebuild-index into a migrated-only database', async () => {
    for (const part of ['objects', 'audit-archive', 'keys']) {
      if (existsSync(join(backupDir, part))) await copyTree(join(backupDir, part), join(rebuiltDir, part));
    }
    target = await openRecoveryTarget(configFor(rebuiltDir));
    rebuild = await rebuildIndex(target.deps, { verifyBytes: true, onProgress: progressPrinter(log) });
    if (rebuild.problems.length) failures.push(`rebuild reported ${rebuild.problems.length} problem(s)`);
  });
  const rebuilt = target!;
  await timed(durations, '4 verify the rebuilt registry: audit chain and every manifest', async () => {
    const v = await rebuilt.container.auditTrail.verify();
    chain = v.ok
      ? `ok (${v.checked} events, head ${v.headSeq}, parity with the archive ${v.parity})`
      : `BROKEN at ${v.firstBreak?.seq}: ${v.firstBreak?.problem} ${v.firstBreak?.detail}`;
    if (!v.ok) failures.push('audit chain does not verify');
    const ids = await rebuilt.container.database.db.selectFrom('artifacts').select('artifact_id').orderBy('artifact_id').execute();
    manifests = { ok: 0, total: ids.length };
    for (const { artifact_id } of ids) {
      const r = await rebuilt.container.verification.validateArtifact(artifact_id);
      if (r.ok) manifests.ok++;
      else
        failures.push(
          `manifest of ${artifact_id}: ${r.checks
            .filter((c) => !c.ok)
            .map((c) => c.check)
            .join(', ')}`,
        );
    }
  });

  await timed(durations, '5 restore the database backup into a second folder, compare', async () => {
    await copyTree(join(backupDir, 'pg'), join(dumpDir, 'pg'));
    const dump = await openDatabase({ kind: 'pglite', dataDir: join(dumpDir, 'pg') });
    try {
      diffs = diffSnapshots(await registrySnapshot(dump), await registrySnapshot(rebuilt.container.database));
    } finally {
      await dump.close();
    }
    storage = await storageParity(rebuilt.container.database, rebuilt.container.store);
    if (diffs.length) failures.push(`${diffs.length} difference(s) between the database backup and the rebuilt registry`);
    if (storage.issues.length) failures.push(`${storage.issues.length} storage parity issue(s)`);
  });

  await timed(durations, '6 resume: one write on the rebuilt registry, chain re-verified', async () => {
    // A state change needs the restored audit key and must link to the archive's last event.
    await rebuilt.container.datasets.register(
      { id: 'dr-drill-resume', version: String(Date.now()), checksum: `sha256:${'0'.repeat(64)}`, uri: 'urn:dr-drill' },
      { id: 'dr-drill', role: 'admin', scope: 'global' },
    );
    await rebuilt.container.auditTrail.archive();
    const v = await rebuilt.container.auditTrail.verify();
    resumed = v.ok && v.parity === 'ok' ? `ok (head ${v.headSeq}, archived and verified)` : `FAILED: ${v.firstBreak?.problem ?? v.parity}`;
    if (!v.ok || v.parity !== 'ok') failures.push('the rebuilt registry cannot continue the chain');
  });
} catch (e) {
  failures.push(`drill stopped: ${(e as Error).stack ?? String(e)}`);
} finally {
  await target?.close();
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const r = rebuild;
const out = [
  'Aegis disaster-recovery drill',
  `  source        ${sourceDir}${populated.artifacts ? ` (populated: ${populated.datasets} datasets, ${populated.artifacts} registrations, ${populated.rotations} key rotation, ${populated.pendingUploads} upload never registered)` : ''}; audit archived through seq ${archivedThrough}`,
  `  work folder   ${work}${args.keep ? ' (kept)' : ' (removed)'}`,
  '  steps',
  ...[...durations].map(([name, ms]) => `    ${name.padEnd(86)} ${secs(ms).padStart(8)}`),
  r
    ? `  restored      ${r.keys} keys, ${r.datasets} datasets, ${r.artifacts.fromArchive + r.artifacts.fromStorage} artifacts (${r.artifacts.fromArchive} from the archive, ${r.artifacts.fromStorage} from storage), ${r.auditEvents} audit events; ${r.problems.length} problems, ${r.orphans.length} orphans, ${r.pendingUploads.length} pending uploads (not restored; they expire)`
    : '  restored      nothing (the rebuild did not run)',
  `  audit chain   ${chain || 'not verified'}`,
  `  manifests     ${manifests.ok}/${manifests.total} verified (signature, signer window, stored bytes)`,
  `  parity        ${diffs.length} difference(s) between the database backup and the rebuilt registry (expected: none)`,
  ...formatDifferences(diffs),
  // A pending upload (marked in the store, or an open upload row) is not a lost record: listed, never a failure.
  `  storage       ${storage ? `${storage.issues.length} issue(s) over ${storage.objects} objects; ${storage.pendingUploads.length} pending upload(s), awaiting registration or expiry (not lost records)` : 'not checked'}`,
  ...(storage ? formatStorageParity(storage) : []),
  `  resume        ${resumed || 'not run'}`,
  ...(r ? ['', 'rebuild-index report:', formatRebuildReport(r)] : []),
  '',
  failures.length ? `DRILL FAILED (${failures.length}):\n${failures.map((f) => `  - ${f}`).join('\n')}` : 'DRILL PASSED',
];
process.stdout.write(`${out.join('\n')}\n`);
if (!args.keep) await removeTree(work).catch((e: unknown) => log(`could not remove ${work}: ${(e as Error).message}`));
process.exit(failures.length ? 1 : 0);
