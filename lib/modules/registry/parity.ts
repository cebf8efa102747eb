/** The registry module's tables as parity compares them, and what storage parity needs of them. */
import type { Executor } from '../../platform/ports/database.js';
import { toIso } from '../../platform/sql/schema.js';
import { openUploadKeys } from './store-uploads.js';
import { allArtifactObjects, allRegistryRows } from './store.js';

export interface ArtifactSnapshot {
  id: string;
  model: string;
  version: number;
  sha256: string;
  size: number;
  manifestSha256: string;
  manifest: string;
  signature: { manifestSignatureId: string; signerId: string; alg: string; signature: string; ts: string };
  storage: {
    key: string;
    versionId: string;
    manifestKey: string;
    manifestVersionId: string;
    signatureKey: string;
    signatureVersionId: string;
  };
  createdBy: string;
  createdAt: string;
}

export interface RegistryTablesSnapshot {
  /** each with its `manifest_signatures` row (`(missing)` where it has none) */
  artifacts: ArtifactSnapshot[];
  models: { id: string; latestVersion: number; team: string | null; createdBy: string; createdAt: string }[];
  links: { id: string }[];
}

/** Every artifact with its signature, model and dataset link; uploads and idempotency keys are left out. */
export async function registrySnapshot(x: Executor): Promise<RegistryTablesSnapshot> {
  const rows = await allRegistryRows(x);
  const artifacts = rows.artifacts.map((r): ArtifactSnapshot => ({
    id: r.artifact_id,
    model: r.model_name,
    version: r.version,
    sha256: r.sha256.trim(),
    size: Number(r.size),
    manifestSha256: r.manifest_sha256.trim(),
    manifest: r.manifest,
    signature: {
      manifestSignatureId: r.manifest_signature_id,
      signerId: r.sig_signer_id ?? '(missing)',
      alg: r.alg ?? '(missing)',
      signature: r.signature ?? '(missing)',
      ts: r.ts ? toIso(r.ts) : '(missing)',
    },
    storage: {
      key: r.storage_key,
      versionId: r.storage_version_id,
      manifestKey: r.manifest_key,
      manifestVersionId: r.manifest_version_id,
      signatureKey: r.signature_key,
      signatureVersionId: r.signature_version_id,
    },
    createdBy: r.created_by,
    createdAt: toIso(r.created_at),
  }));
  const models = rows.models.map((r) => ({
    id: r.name,
    latestVersion: r.latest_version,
    team: r.team,
    createdBy: r.created_by,
    createdAt: toIso(r.created_at),
  }));
  const links = rows.links
    .map((r) => ({ id: `${r.artifact_id} -> ${r.dataset_id}@${r.version}` }))
    .sort((x, y) => x.id.localeCompare(y.id));
  return { artifacts, models, links };
}

/** Where an artifact row says its objects are. */
export interface ArtifactObjects {
  artifactId: string;
  objects: { what: 'artifact bytes' | 'manifest sidecar' | 'signature sidecar'; key: string; versionId: string }[];
}

/** Every artifact's objects, by artifact id, and the keys of the uploads still open (neither registered nor expired). */
export async function registryObjects(x: Executor): Promise<{ artifacts: ArtifactObjects[]; openUploads: Set<string> }> {
  const artifacts = (await allArtifactObjects(x)).map((r) => ({
    artifactId: r.artifact_id,
    objects: [
      { what: 'artifact bytes' as const, key: r.storage_key, versionId: r.storage_version_id },
      { what: 'manifest sidecar' as const, key: r.manifest_key, versionId: r.manifest_version_id },
      { what: 'signature sidecar' as const, key: r.signature_key, versionId: r.signature_version_id },
    ],
  }));
  return { artifacts, openUploads: new Set(await openUploadKeys(x)) };
}
