/**
 * The registry module's tables `models`, `artifacts`, `manifest_signatures` and
 * `artifact_datasets`: with store-uploads.ts (`uploads`, `idempotency_keys`), the only code
 * that builds SQL on the module's tables.
 */
import { sql, type Insertable } from 'kysely';
import { canonicalJson } from '../../kernel/canonical.js';
import type { ModelRef, Scope } from '../../kernel/identity.js';
import { manifestSha256, type TrainingManifest } from '../../kernel/manifest.js';
import type { SignatureAlg, SignatureRecord } from '../../kernel/signatures.js';
import type { Executor } from '../../platform/ports/database.js';
import {
  toDate,
  toIso,
  type ArtifactDatasetsTable,
  type ArtifactsTable,
  type ManifestSignaturesTable,
  type ModelsTable,
} from '../../platform/sql/schema.js';
import { uniqueRefs, type ArtifactRecord, type Registration } from './domain.js';
import { modelInScope } from './store-listing.js';

// ---- artifacts, manifest_signatures, artifact_datasets: row builders and mapping

export function artifactRow(a: Registration): Insertable<ArtifactsTable> {
  return {
    artifact_id: a.manifest.artifactId,
    model_name: a.manifest.modelName,
    version: a.version,
    sha256: a.sha256,
    size: a.size,
    storage_key: a.storage.key,
    storage_version_id: a.storage.versionId,
    manifest_key: a.storage.manifestKey,
    manifest_version_id: a.storage.manifestVersionId,
    signature_key: a.storage.signatureKey,
    signature_version_id: a.storage.signatureVersionId,
    manifest: canonicalJson(a.manifest),
    manifest_sha256: manifestSha256(a.manifest),
    manifest_signature_id: a.signature.manifestSignatureId,
    signer_id: a.signature.signerId,
    created_by: a.createdBy,
    created_at: toDate(a.createdAt),
  };
}

export function manifestSignatureRow(artifactId: string, s: SignatureRecord): Insertable<ManifestSignaturesTable> {
  return {
    manifest_signature_id: s.manifestSignatureId,
    artifact_id: artifactId,
    signer_id: s.signerId,
    alg: s.alg,
    signature: s.signature,
    ts: toDate(s.ts),
  };
}

/** The artifact's links to the datasets its manifest names, each `id@version` once. */
export function artifactDatasetRows(m: TrainingManifest): Insertable<ArtifactDatasetsTable>[] {
  return uniqueRefs(m.datasetRefs).map((r) => ({ artifact_id: m.artifactId, dataset_id: r.id, version: r.version }));
}

type ArtifactJoinRow = NonNullable<Awaited<ReturnType<ReturnType<typeof selectArtifacts>['executeTakeFirst']>>>;

export function toArtifactRecord(r: ArtifactJoinRow): ArtifactRecord {
  return {
    artifactId: r.artifact_id,
    modelName: r.model_name,
    version: r.version,
    sha256: r.sha256.trim(),
    size: Number(r.size),
    storage: { key: r.storage_key, versionId: r.storage_version_id, manifestKey: r.manifest_key, signatureKey: r.signature_key },
    // Parsed leniently: a tampered row must still load so verification can report it.
    manifest: JSON.parse(r.manifest) as TrainingManifest,
    manifestSha256: r.manifest_sha256.trim(),
    signature: {
      manifestSignatureId: r.manifest_signature_id,
      signerId: r.signer_id,
      alg: r.alg as SignatureAlg,
      signature: r.signature,
      ts: toIso(r.ts),
    },
    createdBy: r.created_by,
    createdAt: toIso(r.created_at),
  };
}

// ---- artifacts: writes and reads

// ---- restore and parity: many rows to a statement (each is a round trip on the Data API), every row

export async function insertArtifactRows(x: Executor, rows: Insertable<ArtifactsTable>[]): Promise<void> {
  await x.insertInto('artifacts').values(rows).execute();
}
export async function insertSignatureRows(x: Executor, rows: Insertable<ManifestSignaturesTable>[]): Promise<void> {
  await x.insertInto('manifest_signatures').values(rows).execute();
}
export async function insertLinkRows(x: Executor, rows: Insertable<ArtifactDatasetsTable>[]): Promise<void> {
  await x.insertInto('artifact_datasets').values(rows).execute();
}

/** Creates the model, or raises its `latest_version` to the row's when it exists. */
export async function restoreModel(x: Executor, row: Insertable<ModelsTable>): Promise<void> {
  const latest = sql<number>`greatest(models.latest_version, excluded.latest_version)`;
  await x
    .insertInto('models')
    .values(row)
    .onConflict((oc) => oc.column('name').doUpdateSet({ latest_version: latest }))
    .execute();
}

/** Every artifact row with its signature row's columns (null when it has none), by id; every model and link row. */
export async function allRegistryRows(x: Executor) {
  const artifacts = await x
    .selectFrom('artifacts as a')
    .leftJoin('manifest_signatures as s', 's.manifest_signature_id', 'a.manifest_signature_id')
    .selectAll('a')
    .select(['s.alg', 's.signature', 's.ts', 's.signer_id as sig_signer_id', 's.artifact_id as sig_artifact_id'])
    .orderBy('a.artifact_id')
    .execute();
  const models = await x.selectFrom('models').selectAll().orderBy('name').execute();
  return { artifacts, models, links: await x.selectFrom('artifact_datasets').selectAll().execute() };
}

/** Where every artifact row says its objects are, by artifact id. */
export async function allArtifactObjects(x: Executor) {
  return x
    .selectFrom('artifacts')
    .select([
      'artifact_id',
      'storage_key',
      'storage_version_id',
      'manifest_key',
      'manifest_version_id',
      'signature_key',
      'signature_version_id',
    ])
    .orderBy('artifact_id')
    .execute();
}

function selectArtifacts(x: Executor) {
  return x
    .selectFrom('artifacts as a')
    .innerJoin('manifest_signatures as s', 's.manifest_signature_id', 'a.manifest_signature_id')
    .select([
      'a.artifact_id',
      'a.model_name',
      'a.version',
      'a.sha256',
      'a.size',
      'a.storage_key',
      'a.storage_version_id',
      'a.manifest_key',
      'a.signature_key',
      'a.manifest',
      'a.manifest_sha256',
      'a.created_by',
      'a.created_at',
      's.manifest_signature_id',
      's.signer_id',
      's.alg',
      's.signature',
      's.ts',
    ]);
}

/**
 * One artifact, by id or by model and version; within `scope`, only an artifact of a model in
 * it (one statement: outside the scope it is missing).
 */
export async function findArtifact(
  x: Executor,
  by: { artifactId: string } | { modelName: string; version: number },
  scope: Scope = 'global',
): Promise<ArtifactRecord | undefined> {
  const q =
    scope === 'global'
      ? selectArtifacts(x)
      : selectArtifacts(x)
          .innerJoin('models as m', 'm.name', 'a.model_name')
          .where((eb) => modelInScope(eb, scope, { name: 'm.name', team: 'm.team' }));
  const row = await (
    'artifactId' in by
      ? q.where('a.artifact_id', '=', by.artifactId)
      : q.where('a.model_name', '=', by.modelName).where('a.version', '=', by.version)
  ).executeTakeFirst();
  return row ? toArtifactRecord(row) : undefined;
}

/** The id of the artifact of `modelName` with these bytes, if registered. */
export async function findArtifactIdBySha256(x: Executor, modelName: string, sha256: string): Promise<string | undefined> {
  const row = await x
    .selectFrom('artifacts')
    .select('artifact_id')
    .where('model_name', '=', modelName)
    .where('sha256', '=', sha256)
    .executeTakeFirst();
  return row?.artifact_id;
}

/** Up to `limit` versions of `modelName` below `before`, newest first. */
export async function listArtifactVersions(
  x: Executor,
  q: { modelName: string; limit: number; before?: number | undefined },
): Promise<ArtifactRecord[]> {
  let query = selectArtifacts(x).where('a.model_name', '=', q.modelName).orderBy('a.version', 'desc').limit(q.limit);
  if (q.before !== undefined) query = query.where('a.version', '<', q.before);
  return (await query.execute()).map(toArtifactRecord);
}

/** The `id@version` of the datasets an artifact was trained on, ordered by id and version. */
export async function findDatasetLinks(x: Executor, artifactId: string): Promise<{ id: string; version: string }[]> {
  const rows = await x
    .selectFrom('artifact_datasets')
    .select(['dataset_id', 'version'])
    .where('artifact_id', '=', artifactId)
    .orderBy('dataset_id')
    .orderBy('version')
    .execute();
  return rows.map((r) => ({ id: r.dataset_id, version: r.version }));
}

// ---- models

export async function modelExists(x: Executor, name: string): Promise<boolean> {
  return (await findModelRef(x, name)) !== undefined;
}

/** A model's name and team label, if it exists. */
export async function findModelRef(x: Executor, name: string): Promise<ModelRef | undefined> {
  return x.selectFrom('models').select(['name', 'team']).where('name', '=', name).executeTakeFirst();
}

/** The model (name and team) an artifact belongs to, if the artifact exists. */
export async function findArtifactModelRef(x: Executor, artifactId: string): Promise<ModelRef | undefined> {
  return x
    .selectFrom('artifacts as a')
    .innerJoin('models as m', 'm.name', 'a.model_name')
    .select(['m.name', 'm.team'])
    .where('a.artifact_id', '=', artifactId)
    .executeTakeFirst();
}

/** Sets a model's team label; returns the label it had, or undefined when there is no such model. */
export async function setModelTeam(x: Executor, name: string, team: string | null): Promise<{ previous: string | null } | undefined> {
  const before = await x.selectFrom('models').select('team').where('name', '=', name).forUpdate().executeTakeFirst();
  if (!before) return undefined;
  await x.updateTable('models').set({ team }).where('name', '=', name).execute();
  return { previous: before.team };
}
