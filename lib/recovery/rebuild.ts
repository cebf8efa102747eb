/**
 * Rebuilding the registry database from storage alone: the audit archive (keys, datasets,
 * archived registrations, the chain itself) and the artifact store (registrations the
 * archive does not hold yet). See runbooks/dr_drill.md.
 */
import { canonicalJson } from '../kernel/canonical.js';
import { appendAll } from '../kernel/arrays.js';
import { toDate, toDateOrNull } from '../platform/sql/schema.js';
import {
  ArtifactRegisteredPayload,
  ManifestSignedPayload,
  type ArtifactRegistered,
  type ManifestSigned,
} from '../modules/registry/events.js';
import { DatasetRegisteredPayload } from '../modules/datasets/events.js';
import { statementBytes, verifyRaw, type KeyRecord } from '../kernel/signatures.js';
import { loadVerifiedArchive, type VerifiedArchive } from './archive.js';
import { planPromotions, PROMOTION_EVENT_TYPES, replayOrRefuse } from './promotions.js';
import { artifactRows, assertEmptyTarget, emptyPlan, writePlan, type RowPlan } from './rows.js';
import { mapLimit, scanArtifactStore, verifyStoredArtifact, type VerifiedArtifact } from './storage.js';
import {
  NOT_RESTORED,
  RECOVERY_ACTOR,
  UNKNOWN_KMS_KEY_REF,
  type Phase,
  type RebuildOptions,
  type RebuildReport,
  type RecoveryDeps,
} from './types.js';

export * from './types.js';

const CONCURRENCY = 8;

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
  const report: RebuildReport = {
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
  const progress = opts.onProgress ?? (() => undefined);
  const timed = async <T>(phase: Phase, message: string, fn: () => Promise<T>): Promise<T> => {
    progress({ phase, message });
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      report.durationsMs[phase] = Math.round(performance.now() - t0);
    }
  };

  await timed('check-target', 'checking the target database is migrated and empty', () => assertEmptyTarget(deps.database));
  const archive = await timed('read-archive', 'reading and verifying the audit archive', () => loadVerifiedArchive(deps, opts.trustedKeys));
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

  const plan = emptyPlan();
  const registered = await timed('verify-artifacts', 'verifying archived registrations against storage', () =>
    planArchive(deps, archive, opts, plan, report),
  );
  await timed(
    'restore-archive',
    `writing ${plan.artifacts.length} artifact(s), ${plan.datasets.length} dataset(s), ${plan.keys.length} key(s), ${plan.promotions.length} promotion(s), ${plan.events.length} event(s)`,
    () => writePlan(deps.database, plan),
  );
  report.keys = plan.keys.length;
  report.datasets = plan.datasets.length;
  report.artifacts.fromArchive = plan.artifacts.length;

  const later = emptyPlan();
  const archiveEnd = archive.events[archive.events.length - 1]!.ts;
  await timed('scan-storage', 'scanning the artifact store for registrations the archive does not hold', () =>
    planStorage(deps, archive.ring, registered, archiveEnd, opts, later, report),
  );
  await timed('restore-storage', `writing ${later.artifacts.length} artifact(s) found only in storage`, () =>
    writePlan(deps.database, later),
  );
  report.datasets += later.datasets.length;
  report.artifacts.fromStorage = later.artifacts.length;

  await timed('check-signers', 'checking every active key can sign', () => checkSigners(deps, plan.keys, archive.ring, report));
  progress({ phase: 'check-signers', message: `done: ${report.problems.length} problem(s)` });
  return report;
}

/** What the archive recorded: registrations by model+sha256 and every referenced object key. */
interface Registered {
  byModelSha: Set<string>;
  artifactIds: Set<string>;
  signatureIds: Set<string>;
  keys: Set<string>;
  latest: Map<string, number>;
  datasets: Map<string, string>;
}

async function planArchive(
  deps: RecoveryDeps,
  archive: VerifiedArchive,
  opts: RebuildOptions,
  plan: RowPlan,
  report: RebuildReport,
): Promise<Registered> {
  plan.events = archive.events;
  // Replayed first: events that do not replay refuse the rebuild before anything is verified or written.
  const promotions = replayOrRefuse(archive.events);
  for (const k of archive.ring.values()) {
    // What KeyProvider.create returned: the file name, the ARN (not in the log), nothing for
    // an enrolled key whose private half never reached the server.
    const keyRef =
      k.backend === 'file' ? `${k.kid}.pem` : k.backend === 'external' ? '' : (opts.kmsKeyRefs?.[k.kid] ?? UNKNOWN_KMS_KEY_REF);
    plan.keys.push({
      kid: k.kid,
      purpose: k.purpose,
      alg: k.alg,
      public_key: k.publicKey,
      backend: k.backend,
      key_ref: keyRef,
      not_before: toDate(k.notBefore),
      not_after: toDateOrNull(k.notAfter),
      revoked_at: toDateOrNull(k.revokedAt),
      owner: k.owner ?? null,
    });
  }
  const reg: Registered = {
    byModelSha: new Set(),
    artifactIds: new Set(),
    signatureIds: new Set(),
    keys: new Set(),
    latest: new Map(),
    datasets: new Map(),
  };
  const signed = new Map<string, ManifestSigned>();
  const jobs: { e: (typeof archive.events)[number]; p: ArtifactRegistered }[] = [];
  let tokens = 0;
  const unknownTypes = new Set<string>();
  for (const e of archive.events) {
    const bad = (kind: 'dataset' | 'artifact' | 'event', msg: string | undefined) =>
      report.problems.push({ kind, id: `seq ${e.seq}`, problem: 'payload-invalid', detail: `${e.type}: ${msg}` });
    if (e.type === 'dataset.registered') {
      const p = DatasetRegisteredPayload.safeParse(e.payload);
      if (!p.success) bad('dataset', p.error.issues[0]?.message);
      else {
        const d = p.data;
        plan.datasets.push({
          dataset_id: d.id,
          version: d.version,
          checksum: d.checksum,
          uri: d.uri,
          schema: d.schema === null ? null : canonicalJson(d.schema),
          created_by: e.actor,
          created_at: toDate(d.createdAt),
        });
        reg.datasets.set(`${d.id}@${d.version}`, d.checksum);
      }
    } else if (e.type === 'manifest.signed') {
      const p = ManifestSignedPayload.safeParse(e.payload);
      if (p.success) signed.set(p.data.manifestSignatureId, p.data);
      else bad('artifact', p.error.issues[0]?.message);
    } else if (e.type === 'artifact.registered') {
      const p = ArtifactRegisteredPayload.safeParse(e.payload);
      if (!p.success) bad('artifact', p.error.issues[0]?.message);
      else {
        const a = p.data;
        jobs.push({ e, p: a });
        // Recorded even when the item fails below: its version number and objects stay taken.
        const s = a.storage;
        for (const k of [s.key, s.manifestKey, s.signatureKey]) reg.keys.add(k);
        reg.byModelSha.add(`${a.modelName}:${a.sha256}`);
        reg.artifactIds.add(a.artifactId);
        reg.signatureIds.add(a.manifestSignatureId);
        if (!reg.latest.has(a.modelName))
          plan.models.push({ name: a.modelName, latest_version: 0, created_by: e.actor, created_at: toDate(a.createdAt) });
        reg.latest.set(a.modelName, Math.max(reg.latest.get(a.modelName) ?? 0, a.version));
      }
    } else if (e.type === 'token.created') tokens++;
    else if (!e.type.startsWith('key.') && !PROMOTION_EVENT_TYPES.has(e.type)) unknownTypes.add(e.type);
  }
  for (const m of plan.models) m.latest_version = reg.latest.get(m.name)!;
  if (tokens) report.warnings.push(`${tokens} api token(s) were created per the audit log; tokens are never restored: create new ones`);
  if (unknownTypes.size)
    report.warnings.push(
      `events of type ${[...unknownTypes].join(', ')} are restored in the audit log, but this rebuild does not restore the state they describe`,
    );

  let done = 0;
  const verdicts = await mapLimit(jobs, CONCURRENCY, async ({ p: a }) => {
    const s = a.storage;
    const sig = signed.get(a.manifestSignatureId);
    const v = sig
      ? await verifyStoredArtifact(
          deps.store,
          archive.ring,
          {
            key: s.key,
            versionId: s.versionId,
            manifestKey: s.manifestKey,
            manifestVersionId: s.manifestVersionId,
            signatureKey: s.signatureKey,
            signatureVersionId: s.signatureVersionId,
          },
          {
            verifyBytes: opts.verifyBytes ?? false,
            archived: {
              artifactId: a.artifactId,
              modelName: a.modelName,
              sha256: a.sha256,
              size: a.size,
              manifestSha256: a.manifestSha256,
              signed: sig,
            },
          },
        )
      : ({
          ok: false,
          problem: {
            kind: 'artifact',
            id: a.artifactId,
            problem: 'payload-invalid',
            detail: `no manifest.signed event for signature ${a.manifestSignatureId}`,
          },
        } as const);
    opts.onProgress?.({ phase: 'verify-artifacts', message: 'verified', done: ++done, total: jobs.length });
    return v;
  });
  for (const [i, v] of verdicts.entries()) {
    const { e, p: a } = jobs[i]!;
    if (!v.ok) {
      report.problems.push(v.problem);
      continue;
    }
    appendAll(report.warnings, v.artifact.warnings);
    linkDatasets(plan, reg, v.artifact, report);
    artifactRows(plan, v.artifact, a.version, e.actor, a.createdAt);
  }
  planPromotions(promotions, plan, report);
  return reg;
}

/**
 * Datasets must exist for the links. Registration refuses unknown datasets, so a missing one
 * was registered after the last archive run: it is rebuilt from the signed datasetRef
 * (checksum and, when recorded, uri) and reported.
 */
function linkDatasets(plan: RowPlan, reg: Registered, a: VerifiedArtifact, report: RebuildReport): void {
  for (const r of a.manifest.datasetRefs) {
    if (reg.datasets.has(`${r.id}@${r.version}`)) continue;
    reg.datasets.set(`${r.id}@${r.version}`, r.checksum);
    plan.datasets.push({
      dataset_id: r.id,
      version: r.version,
      checksum: r.checksum,
      uri: r.uri ?? 'urn:aegis:unknown',
      schema: null,
      created_by: RECOVERY_ACTOR,
      created_at: toDate(a.signature.ts),
    });
    report.warnings.push(
      `dataset ${r.id}@${r.version} is not in the archive: reconstructed from the manifest of ${a.manifest.artifactId} (checksum kept${r.uri ? '' : ', uri unknown'}, schema unknown)`,
    );
  }
}

async function planStorage(
  deps: RecoveryDeps,
  ring: ReadonlyMap<string, KeyRecord>,
  reg: Registered,
  archiveEnd: string,
  opts: RebuildOptions,
  plan: RowPlan,
  report: RebuildReport,
): Promise<void> {
  const scan = await scanArtifactStore(deps.store, reg.keys);
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
  // Signature time is registration order (the version is assigned right after signing).
  verified.sort(
    (x, y) =>
      x.signature.ts.localeCompare(y.signature.ts) || x.signature.manifestSignatureId.localeCompare(y.signature.manifestSignatureId),
  );
  const models = new Map<string, (typeof plan.models)[number]>();
  for (const a of verified) {
    const m = a.manifest;
    const sidecars = [a.storage.manifestKey, a.storage.signatureKey];
    if (reg.byModelSha.has(`${m.modelName}:${m.artifactSha256}`)) {
      // A crashed registration's sidecars beside (or before) the retry that committed.
      report.orphans.push({
        kind: 'duplicate-sidecars',
        keys: sidecars,
        detail: `${m.modelName} sha256 ${m.artifactSha256.slice(0, 12)}… is already restored from an earlier signature`,
      });
      continue;
    }
    if (reg.artifactIds.has(m.artifactId) || reg.signatureIds.has(a.signature.manifestSignatureId)) {
      report.problems.push({
        kind: 'sidecar',
        id: a.storage.manifestKey,
        problem: 'conflict',
        detail: `artifact ${m.artifactId} or signature ${a.signature.manifestSignatureId} is already taken by another registration`,
      });
      continue;
    }
    const clash = m.datasetRefs.find(
      (r) => reg.datasets.has(`${r.id}@${r.version}`) && reg.datasets.get(`${r.id}@${r.version}`) !== r.checksum,
    );
    if (clash) {
      report.problems.push({
        kind: 'sidecar',
        id: a.storage.manifestKey,
        problem: 'conflict',
        detail: `dataset ${clash.id}@${clash.version} is registered with another checksum than the manifest names`,
      });
      continue;
    }
    reg.byModelSha.add(`${m.modelName}:${m.artifactSha256}`);
    reg.artifactIds.add(m.artifactId);
    reg.signatureIds.add(a.signature.manifestSignatureId);
    const version = (reg.latest.get(m.modelName) ?? 0) + 1;
    reg.latest.set(m.modelName, version);
    const model = models.get(m.modelName) ?? {
      name: m.modelName,
      latest_version: version,
      created_by: RECOVERY_ACTOR,
      created_at: toDate(a.signature.ts),
    };
    model.latest_version = version;
    models.set(m.modelName, model);
    appendAll(report.warnings, a.warnings);
    linkDatasets(plan, reg, a, report);
    artifactRows(plan, a, version, RECOVERY_ACTOR, a.signature.ts);
    report.restoredFromStorage.push({
      artifactId: m.artifactId,
      modelName: m.modelName,
      version,
      signedAt: a.signature.ts,
      note: 'not in the audit archive',
      signedBeforeArchiveEnd: Date.parse(a.signature.ts) < Date.parse(archiveEnd),
    });
  }
  appendAll(plan.models, models.values());
}

/**
 * Every state change needs the active audit key, every registration the manifest key: an
 * active key whose private half cannot be reached (key file lost with the data folder,
 * KMS ARN unknown, another key under that name) leaves a registry that verifies but cannot
 * write. Probed by signing and verifying a throwaway statement.
 */
async function checkSigners(
  deps: RecoveryDeps,
  rows: RowPlan['keys'],
  ring: ReadonlyMap<string, KeyRecord>,
  report: RebuildReport,
): Promise<void> {
  for (const row of rows) {
    const k = ring.get(row.kid)!;
    // Only the server's own keys sign here; an enrolled approver key signs on its owner's machine.
    if (k.notAfter || k.revokedAt || k.backend === 'external') continue;
    const fail = (detail: string) => report.problems.push({ kind: 'key', id: k.kid, problem: 'signing-unavailable', detail });
    if (row.key_ref === UNKNOWN_KMS_KEY_REF) {
      fail(`active ${k.purpose} key ${k.kid} is in KMS, but its ARN is not in the audit log: pass --kms-key-ref ${k.kid}=<arn>`);
      continue;
    }
    const probe = statementBytes({ type: 'aegis.recovery-probe/v1', kid: k.kid, at: new Date().toISOString() });
    try {
      const sig = await deps.keyProvider.signer(k.kid, k.alg, row.key_ref).sign(probe);
      if (!verifyRaw(k.alg, k.publicKey, probe, sig.toString('base64')))
        fail(`active ${k.purpose} key ${k.kid}: the private key found (${k.backend}) is not the one the ring records`);
    } catch (e) {
      fail(`active ${k.purpose} key ${k.kid} cannot sign (${(e as Error).message}): the registry verifies but cannot write until it can`);
    }
  }
  for (const k of ring.values()) {
    if (k.backend === 'kms' && (k.notAfter || k.revokedAt) && !rows.some((r) => r.kid === k.kid && r.key_ref !== UNKNOWN_KMS_KEY_REF)) {
      report.warnings.push(`retired KMS key ${k.kid} has no ARN recorded (it never signs again; its public key still verifies)`);
    }
  }
}
