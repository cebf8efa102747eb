/**
 * Rebuilding the registry database from storage alone: the audit archive (keys, datasets,
 * archived registrations, promotions, the chain itself) and the artifact store
 * (registrations the archive does not hold yet). Orchestration only: each module's restore
 * (`lib/modules/<m>/restore.ts`) turns its events into its rows. See runbooks/dr_drill.md.
 */
import { appendAll } from '../kernel/arrays.js';
import type { AuditEvent } from '../kernel/audit-chain.js';
import type { KeyRecord } from '../kernel/signatures.js';
import { EVENT_CATALOGUE } from '../modules/catalogue.js';
import { DatasetRestore } from '../modules/datasets/restore.js';
import { DriftRestore } from '../modules/drift/restore.js';
import { EventRestore } from '../modules/events/restore.js';
import { keyRows } from '../modules/keys/restore.js';
import { QuarantineRestore } from '../modules/quarantine/restore.js';
import { ServingRestore } from '../modules/serving/restore.js';
import { RegistryRestore } from '../modules/registry/restore.js';
import type { RestoreLog } from '../modules/restore.js';
import { loadVerifiedArchive, type VerifiedArchive } from './archive.js';
import { RESTORED_TYPES } from './modules.js';
import { planPromotions, replayOrRefuse } from './promotions.js';
import { assertEmptyTarget, emptyPlan, writePlan, type RowPlan } from './rows.js';
import { checkSigners } from './signers.js';
import { mapLimit, scanArtifactStore, verifyArchived, verifyStoredArtifact, type VerifiedArtifact } from './storage.js';
import { NOT_RESTORED, type Phase, type RebuildOptions, type RebuildReport, type RecoveryDeps } from './types.js';

export * from './types.js';

const CONCURRENCY = 8;

/** The restores that read the archive's events here; the key ring is replayed while the archive verifies, promotions before anything. */
interface Restores {
  datasets: DatasetRestore;
  registry: RegistryRestore;
  quarantine: QuarantineRestore;
  serving: ServingRestore;
  drift: DriftRestore;
  events: EventRestore;
}

/**
 * Rebuilds the registry into an empty, migrated database (see assertEmptyTarget) from
 * storage alone. Throws RecoveryError before writing anything when the target is not empty,
 * the archive does not verify or its promotion events do not replay; otherwise restores
 * what verifies and reports the rest. Every item whose signature or bytes fail is skipped and listed in `problems`. Each
 * writing phase (archive, then storage) is one transaction; should the storage phase fail,
 * the database holds exactly the archived registry: drop it and run again.
 *
 * @example
 * const c = await buildLocalContainer(config, { mode: 'local', bootstrap: false });
 * await migrateToLatest(c.database.db);
 * const report = await rebuildIndex({ ...c, archiveStore }, { verifyBytes: true, onProgress: (p) => console.error(p.message) });
 */
export async function rebuildIndex(deps: RecoveryDeps, opts: RebuildOptions = {}): Promise<RebuildReport> {
  const report = emptyReport();
  const timed = timer(report, opts.onProgress ?? (() => undefined));

  await timed('check-target', 'checking the target database is migrated and empty', () => assertEmptyTarget(deps.database));
  const archive = await timed('read-archive', 'reading and verifying the audit archive', () => loadVerifiedArchive(deps, opts.trustedKeys));
  reportArchive(archive, report);

  const datasets = new DatasetRestore();
  const r: Restores = {
    datasets,
    registry: new RegistryRestore(datasets),
    quarantine: new QuarantineRestore(),
    serving: new ServingRestore(),
    drift: new DriftRestore(),
    events: new EventRestore(),
  };
  const plan = await timed('verify-artifacts', 'verifying archived registrations against storage', () =>
    planArchive(deps, archive, opts, r, report),
  );
  await timed(
    'restore-archive',
    `writing ${plan.artifacts.length} artifact(s), ${plan.datasets.length} dataset(s), ${plan.keys.length} key(s), ${plan.promotions.length} promotion(s), ${plan.events.length} event(s)`,
    () => writePlan(deps.database, plan),
  );
  Object.assign(report, { keys: plan.keys.length, datasets: plan.datasets.length });
  report.artifacts.fromArchive = plan.artifacts.length;

  const archiveEnd = archive.events[archive.events.length - 1]!.ts;
  const later = await timed('scan-storage', 'scanning the artifact store for registrations the archive does not hold', () =>
    planStorage(deps, archive.ring, r, archiveEnd, opts, report),
  );
  await timed('restore-storage', `writing ${later.artifacts.length} artifact(s) found only in storage`, () =>
    writePlan(deps.database, later),
  );
  report.datasets += later.datasets.length;
  report.artifacts.fromStorage = later.artifacts.length;

  await timed('check-signers', 'checking every active key can sign', () => checkSigners(deps.keyProvider, plan.keys, archive.ring, report));
  opts.onProgress?.({ phase: 'check-signers', message: `done: ${report.problems.length} problem(s)` });
  return report;
}

function emptyReport(): RebuildReport {
  return {
    keys: 0,
    datasets: 0,
    artifacts: { fromArchive: 0, fromStorage: 0 },
    auditEvents: 0,
    archivedThrough: 0,
    trust: { pinned: false, rootKid: null, unpinned: [], mismatched: [] },
    restoredFromStorage: [],
    orphans: [],
    pendingUploads: [],
    problems: [],
    warnings: [],
    notRestored: [...NOT_RESTORED],
    durationsMs: {},
  };
}

/** Runs a phase, reporting it and recording how long it took. */
function timer(report: RebuildReport, progress: NonNullable<RebuildOptions['onProgress']>) {
  return async <T>(phase: Phase, message: string, fn: () => Promise<T>): Promise<T> => {
    progress({ phase, message });
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      report.durationsMs[phase] = Math.round(performance.now() - t0);
    }
  };
}

function reportArchive(archive: VerifiedArchive, report: RebuildReport): void {
  Object.assign(report, { archivedThrough: archive.archivedThrough, trust: archive.trust, auditEvents: archive.events.length });
  appendAll(report.warnings, archive.warnings);
  appendAll(report.problems, archive.headProblems);
  if (!archive.trust.pinned)
    report.warnings.push(
      `trust is not pinned: the key ring is self-certified by ${archive.trust.rootKid}'s key.created at seq 1 (pass --trusted-keys to pin it)`,
    );
  else if (archive.trust.unpinned.length)
    report.warnings.push(
      `key(s) ${archive.trust.unpinned.join(', ')} are not in the trusted ring; trusted through the chain signed by pinned keys`,
    );
}

/** The archive's rows: the key ring, datasets, registrations that verify against storage, promotions of restored artifacts, the chain. */
async function planArchive(
  deps: RecoveryDeps,
  archive: VerifiedArchive,
  opts: RebuildOptions,
  r: Restores,
  report: RebuildReport,
): Promise<RowPlan> {
  // Replayed first: events that do not replay refuse the rebuild before anything is verified or written.
  const promotions = replayOrRefuse(archive.events);
  dispatchEvents(archive.events, r, report);
  const jobs = r.registry.archived();
  let done = 0;
  const verdicts = await mapLimit(jobs, CONCURRENCY, async (job) => {
    const v = await verifyArchived(deps.store, archive.ring, job, opts.verifyBytes ?? false);
    opts.onProgress?.({ phase: 'verify-artifacts', message: 'verified', done: ++done, total: jobs.length });
    return v;
  });
  for (const [i, v] of verdicts.entries()) {
    if (v.ok) r.registry.restoreArchived(jobs[i]!, v.artifact, report);
    else report.problems.push(v.problem);
  }
  const plan: RowPlan = { ...emptyPlan(), ...keyRows(archive.ring, opts.kmsKeyRefs), ...r.datasets.take(), ...r.registry.take() };
  plan.events = archive.events;
  planPromotions(promotions, plan, report);
  const restored = new Set(plan.artifacts.map((a) => a.artifact_id));
  Object.assign(plan, r.quarantine.take(restored), r.serving.take(restored), r.drift.take(), r.events.take(report));
  return plan;
}

/** What the rebuild says of events whose state it never restores (the catalogue says why); other such types change no state. */
const NOT_RESTORED_WARNINGS: Readonly<Record<string, (n: number) => string>> = {
  'token.created': (n) => `${n} api token(s) were created per the audit log; tokens are never restored: create new ones`,
};

/** Hands each event to the restore of its type; counts the events no restore reads, to warn of them. */
function dispatchEvents(events: readonly AuditEvent[], r: Restores, log: RestoreLog): void {
  const unrestored = new Map<string, number>();
  for (const e of events) {
    r.datasets.apply(e, log);
    r.registry.apply(e, log);
    r.quarantine.apply(e, log);
    r.serving.apply(e, log);
    r.drift.apply(e, log);
    r.events.apply(e, log);
    if (!RESTORED_TYPES.has(e.type)) unrestored.set(e.type, (unrestored.get(e.type) ?? 0) + 1);
  }
  const unknown: string[] = [];
  for (const [type, n] of unrestored) {
    const spec = Object.hasOwn(EVENT_CATALOGUE, type) ? EVENT_CATALOGUE[type] : undefined;
    if (!spec || !('notRestored' in spec.restore)) unknown.push(type);
    else {
      const warning = Object.hasOwn(NOT_RESTORED_WARNINGS, type) ? NOT_RESTORED_WARNINGS[type]!(n) : undefined;
      if (warning) log.warnings.push(warning);
    }
  }
  if (unknown.length)
    log.warnings.push(
      `events of type ${unknown.join(', ')} are restored in the audit log, but this rebuild does not restore the state they describe`,
    );
}

/** The rows of registrations found only in the artifact store, in registration order, after the archive's. */
async function planStorage(
  deps: RecoveryDeps,
  ring: ReadonlyMap<string, KeyRecord>,
  r: Restores,
  archiveEnd: string,
  opts: RebuildOptions,
  report: RebuildReport,
): Promise<RowPlan> {
  const scan = await scanArtifactStore(deps.store, r.registry.referencedKeys);
  appendAll(report.orphans, scan.orphans);
  appendAll(report.pendingUploads, scan.pendingUploads);
  let done = 0;
  const verdicts = await mapLimit(scan.candidates, CONCURRENCY, async (ref) => {
    const v = await verifyStoredArtifact(deps.store, ring, ref, { verifyBytes: opts.verifyBytes ?? false });
    opts.onProgress?.({ phase: 'scan-storage', message: 'verified', done: ++done, total: scan.candidates.length });
    return v;
  });
  const verified: VerifiedArtifact[] = [];
  for (const v of verdicts) {
    if (v.ok) verified.push(v.artifact);
    else report.problems.push(v.problem);
  }
  for (const { artifact: a, version } of r.registry.restoreFromStorage(verified, report)) {
    report.restoredFromStorage.push({
      artifactId: a.manifest.artifactId,
      modelName: a.manifest.modelName,
      version,
      signedAt: a.signature.ts,
      note: 'not in the audit archive',
      signedBeforeArchiveEnd: Date.parse(a.signature.ts) < Date.parse(archiveEnd),
    });
  }
  return { ...emptyPlan(), ...r.datasets.take(), ...r.registry.take() };
}
