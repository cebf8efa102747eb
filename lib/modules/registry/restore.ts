/**
 * Restoring the registry module: the `models`, `artifacts`, `manifest_signatures` and
 * `artifact_datasets` rows of the registrations the chain recorded (`manifest.signed`,
 * `artifact.registered`) and of those found only in the artifact store, once their objects
 * verified. The rows are the ones RegistryService.register writes, from the store's builders.
 */
import type { Insertable } from 'kysely';
import { appendAll } from '../../kernel/arrays.js';
import type { AuditEvent } from '../../kernel/audit-chain.js';
import type { TrainingManifest } from '../../kernel/manifest.js';
import type { SignatureRecord } from '../../kernel/signatures.js';
import type { Executor } from '../../platform/ports/database.js';
import {
  toDate,
  type ArtifactDatasetsTable,
  type ArtifactsTable,
  type ManifestSignaturesTable,
  type ModelsTable,
} from '../../platform/sql/schema.js';
import type { DatasetRestore } from '../datasets/restore.js';
import { handlerFor, inChunks, parsePayload, RECOVERY_ACTOR, type RestoreLog } from '../restore.js';
import type { StoredArtifact } from './domain.js';
import {
  ArtifactRegisteredPayload,
  ManifestSignedPayload,
  ModelTeamSetPayload,
  type ArtifactRegistered,
  type ManifestSigned,
} from './events.js';
import {
  artifactDatasetRows,
  artifactRow,
  insertArtifactRows,
  insertLinkRows,
  insertSignatureRows,
  manifestSignatureRow,
  restoreModel,
} from './store.js';

/** A registration whose manifest, signature and bytes verified against the store. */
export interface VerifiedRegistration {
  manifest: TrainingManifest;
  signature: SignatureRecord;
  sha256: string;
  size: number;
  storage: StoredArtifact;
  warnings: string[];
}

/** A registration the archive recorded, to verify against the store before it is restored. */
export interface ArchivedRegistration {
  registered: ArtifactRegistered;
  /** its `manifest.signed` event (undefined: the archive holds none) */
  signed: ManifestSigned | undefined;
  actor: string;
}

export interface RegistryRows {
  /** models to create, or (existing) to raise `latest_version` for */
  models: Insertable<ModelsTable>[];
  artifacts: Insertable<ArtifactsTable>[];
  signatures: Insertable<ManifestSignaturesTable>[];
  links: Insertable<ArtifactDatasetsTable>[];
}

const noRows = (): RegistryRows => ({ models: [], artifacts: [], signatures: [], links: [] });

/**
 * What the rebuild has restored of the registry (every id, object and model version the
 * archive took) and the rows planned since the last {@link RegistryRestore.take}. Datasets a
 * restored manifest names come from the datasets restore, which rebuilds any it lacks.
 */
export class RegistryRestore {
  /** the object keys the archived registrations name: the storage scan leaves them alone */
  readonly referencedKeys = new Set<string>();
  readonly #byModelSha = new Set<string>();
  readonly #artifactIds = new Set<string>();
  readonly #signatureIds = new Set<string>();
  readonly #latest = new Map<string, number>();
  /** each model's team label as the last `model.team.set` left it */
  readonly #teams = new Map<string, string | null>();
  readonly #signed = new Map<string, ManifestSigned>();
  readonly #archived: { registered: ArtifactRegistered; actor: string }[] = [];
  #rows = noRows();

  constructor(private readonly datasets: DatasetRestore) {}

  /** Replays one event of a type in {@link RESTORES}; any other is ignored. */
  apply(e: AuditEvent, log: RestoreLog): void {
    handlerFor(HANDLERS, e.type)?.(this, e, log);
  }

  /** A model's team label set (at its first registration or by an admin): the last one holds. */
  team(model: string, team: string | null): void {
    this.#teams.set(model, team);
  }

  signed(s: ManifestSigned): void {
    this.#signed.set(s.manifestSignatureId, s);
  }

  /** Takes the registration's ids, objects and version even if it fails verification later: they stay taken. */
  registered(a: ArtifactRegistered, actor: string): void {
    this.#archived.push({ registered: a, actor });
    const s = a.storage;
    for (const k of [s.key, s.manifestKey, s.signatureKey]) this.referencedKeys.add(k);
    this.#take(a.modelName, a.sha256, a.artifactId, a.manifestSignatureId);
    if (!this.#latest.has(a.modelName))
      this.#rows.models.push({ name: a.modelName, latest_version: 0, created_by: actor, created_at: toDate(a.createdAt) });
    this.#latest.set(a.modelName, Math.max(this.#latest.get(a.modelName) ?? 0, a.version));
  }

  /** The archived registrations in chain order, each with its `manifest.signed` event. */
  archived(): ArchivedRegistration[] {
    return this.#archived.map((r) => ({ ...r, signed: this.#signed.get(r.registered.manifestSignatureId) }));
  }

  /** Restores an archived registration whose objects verified, as registered. */
  restoreArchived(r: ArchivedRegistration, v: VerifiedRegistration, log: RestoreLog): void {
    this.#restore(v, { version: r.registered.version, createdBy: r.actor, createdAt: r.registered.createdAt }, log);
  }

  /**
   * Restores the verified registrations found only in storage, in registration order (signature
   * time: the version is assigned right after signing), each taking its model's next version.
   * A retry's sidecars beside the registration that committed are orphans; one that names an
   * id or a dataset checksum already taken is a conflict. Returns the restored ones.
   */
  restoreFromStorage(verified: VerifiedRegistration[], log: RestoreLog): { artifact: VerifiedRegistration; version: number }[] {
    verified.sort(
      (x, y) =>
        x.signature.ts.localeCompare(y.signature.ts) || x.signature.manifestSignatureId.localeCompare(y.signature.manifestSignatureId),
    );
    const restored: { artifact: VerifiedRegistration; version: number }[] = [];
    const models = new Set<string>();
    for (const a of verified) {
      const m = a.manifest;
      if (!this.#admit(a, log)) continue;
      this.#take(m.modelName, m.artifactSha256, m.artifactId, a.signature.manifestSignatureId);
      const version = (this.#latest.get(m.modelName) ?? 0) + 1;
      this.#latest.set(m.modelName, version);
      if (!models.has(m.modelName))
        this.#rows.models.push({
          name: m.modelName,
          latest_version: version,
          created_by: RECOVERY_ACTOR,
          created_at: toDate(a.signature.ts),
        });
      models.add(m.modelName);
      this.#restore(a, { version, createdBy: RECOVERY_ACTOR, createdAt: a.signature.ts }, log);
      restored.push({ artifact: a, version });
    }
    return restored;
  }

  /** The rows planned since the last call, for one phase's transaction; models carry their latest version. */
  take(): RegistryRows {
    const rows = this.#rows;
    for (const m of rows.models) {
      m.latest_version = this.#latest.get(m.name)!;
      m.team = this.#teams.get(m.name) ?? null;
    }
    this.#rows = noRows();
    return rows;
  }

  #take(modelName: string, sha256: string, artifactId: string, signatureId: string): void {
    this.#byModelSha.add(`${modelName}:${sha256}`);
    this.#artifactIds.add(artifactId);
    this.#signatureIds.add(signatureId);
  }

  /** Whether a registration found in storage may be restored; an orphan or a problem otherwise. */
  #admit(a: VerifiedRegistration, log: RestoreLog): boolean {
    const m = a.manifest;
    const sidecars = [a.storage.manifestKey, a.storage.signatureKey];
    if (this.#byModelSha.has(`${m.modelName}:${m.artifactSha256}`)) {
      // A crashed registration's sidecars beside (or before) the retry that committed.
      log.orphans.push({
        kind: 'duplicate-sidecars',
        keys: sidecars,
        detail: `${m.modelName} sha256 ${m.artifactSha256.slice(0, 12)}… is already restored from an earlier signature`,
      });
      return false;
    }
    const conflict = (detail: string) => log.problems.push({ kind: 'sidecar', id: a.storage.manifestKey, problem: 'conflict', detail });
    if (this.#artifactIds.has(m.artifactId) || this.#signatureIds.has(a.signature.manifestSignatureId)) {
      conflict(`artifact ${m.artifactId} or signature ${a.signature.manifestSignatureId} is already taken by another registration`);
      return false;
    }
    const clash = this.datasets.clash(m.datasetRefs);
    if (clash) conflict(`dataset ${clash.id}@${clash.version} is registered with another checksum than the manifest names`);
    return !clash;
  }

  #restore(v: VerifiedRegistration, as: { version: number; createdBy: string; createdAt: string }, log: RestoreLog): void {
    appendAll(log.warnings, v.warnings);
    this.datasets.ensure({ artifactId: v.manifest.artifactId, datasetRefs: v.manifest.datasetRefs }, v.signature.ts, log);
    this.#rows.artifacts.push(artifactRow({ ...v, ...as }));
    this.#rows.signatures.push(manifestSignatureRow(v.manifest.artifactId, v.signature));
    appendAll(this.#rows.links, artifactDatasetRows(v.manifest));
  }
}

const HANDLERS: Readonly<Record<string, (r: RegistryRestore, e: AuditEvent, log: RestoreLog) => void>> = {
  'manifest.signed': (r, e, log) => {
    const s = parsePayload(ManifestSignedPayload, e, 'artifact', log);
    if (s) r.signed(s);
  },
  'model.team.set': (r, e, log) => {
    const t = parsePayload(ModelTeamSetPayload, e, 'event', log);
    if (t) r.team(t.model, t.team);
  },
  'artifact.registered': (r, e, log) => {
    const a = parsePayload(ArtifactRegisteredPayload, e, 'artifact', log);
    if (a) r.registered(a, e.actor);
  },
};

/** The event types the registry restore reads. */
export const RESTORES: readonly string[] = Object.keys(HANDLERS);

/** Writes the rows in the caller's transaction, in foreign-key order. */
export async function writeRegistry(x: Executor, rows: RegistryRows): Promise<void> {
  for (const model of rows.models) await restoreModel(x, model);
  await inChunks(rows.artifacts, (part) => insertArtifactRows(x, part));
  await inChunks(rows.signatures, (part) => insertSignatureRows(x, part));
  await inChunks(rows.links, (part) => insertLinkRows(x, part));
}
