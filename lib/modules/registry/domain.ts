/** The registry's records and rules (no I/O). */
import { BASELINE_FILE, type ArtifactBaseline } from '../../kernel/artifact-baseline.js';
import { canonicalSha256 } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';
import { manifestSha256, TrainingManifest, type ManifestInput } from '../../kernel/manifest.js';
import type { SignatureRecord } from '../../kernel/signatures.js';
import type { Principal } from '../../kernel/identity.js';
import { MULTIPART_LIMITS } from '../../platform/ports/object-store.js';

export interface ArtifactRecord {
  artifactId: string;
  modelName: string;
  version: number;
  sha256: string;
  size: number;
  storage: { key: string; versionId: string; manifestKey: string; signatureKey: string };
  manifest: TrainingManifest;
  manifestSha256: string;
  signature: SignatureRecord;
  createdBy: string;
  createdAt: string;
}

/** Where a registration's artifact and its manifest and signature sidecars are stored (as in `artifact.registered`). */
export interface StoredArtifact {
  key: string;
  versionId: string;
  manifestKey: string;
  manifestVersionId: string;
  signatureKey: string;
  signatureVersionId: string;
}

/** What one registration stores; the store builds its rows from it (on registration, and when one is restored). */
export interface Registration {
  manifest: TrainingManifest;
  signature: SignatureRecord;
  sha256: string;
  size: number;
  storage: StoredArtifact;
  version: number;
  createdBy: string;
  createdAt: Date | string;
}

export interface RegistrationResult {
  artifactId: string;
  modelName: string;
  version: number;
  sha256: string;
  manifestSignatureId: string;
  signerId: string;
  /** true when this repeated an earlier registration and returned its result */
  replayed: boolean;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A pending upload as the registry keeps it. */
export interface Upload {
  uploadId: string;
  modelName: string;
  storageKey: string;
  createdBy: string;
  createdAt: string;
  expiredAt: string | null;
  /** the size the upload was created for (bytes) */
  maxSize: number;
  /**
   * A multipart upload's part size, fixed when it was created; null for a single upload, and for
   * a multipart upload created before migration 0018 (cut by the current setting then).
   */
  partBytes: number | null;
}

export const DEFAULT_PENDING_UPLOAD_TTL_SECONDS = 86_400;

/** The most a single presigned PUT takes on S3: a larger upload must be multipart. */
export const SINGLE_PUT_MAX_BYTES = 5 * 1024 ** 3;

/** The part size of multipart uploads unless configured (`AEGIS_MULTIPART_PART_BYTES`). */
export const DEFAULT_MULTIPART_PART_BYTES = 64 * 1024 * 1024;

/** How the bytes of a multipart upload are cut: parts of `partSize` bytes, the last one shorter. */
export interface MultipartPlan {
  partSize: number;
  partCount: number;
}

/**
 * The one rule that cuts an upload of `size` bytes into parts: at least `partBytes` per part,
 * more (in whole MiB) when `size` would need more than {@link MULTIPART_LIMITS.maxParts} parts.
 * Cutting by the plan's own `partSize` gives the same plan again, which is why an upload stores
 * its `partSize` when created and the parts route and registration cut it by that (see
 * {@link uploadPlan}), whatever the setting is later.
 *
 * @example multipartPlan(200 * 2 ** 20, 64 * 2 ** 20) // { partSize: 67108864, partCount: 4 }
 */
export function multipartPlan(size: number, partBytes: number): MultipartPlan {
  const mib = 1024 * 1024;
  const partSize = Math.min(
    MULTIPART_LIMITS.maxPartBytes,
    Math.max(partBytes, MULTIPART_LIMITS.minPartBytes, Math.ceil(size / MULTIPART_LIMITS.maxParts / mib) * mib),
  );
  return { partSize, partCount: Math.max(1, Math.ceil(size / partSize)) };
}

/**
 * The plan of a multipart upload as it was created: by its stored part size, or by the current
 * setting `partBytes` for an upload created before the part size was stored (migration 0018).
 */
export function uploadPlan(upload: Pick<Upload, 'maxSize' | 'partBytes'>, partBytes: number): MultipartPlan {
  return multipartPlan(upload.maxSize, upload.partBytes ?? partBytes);
}

/** The size of part `partNumber` (from 1) of an upload of `size` bytes cut by `plan`. */
export function planPartSize(plan: MultipartPlan, size: number, partNumber: number): number {
  return partNumber < plan.partCount ? plan.partSize : size - plan.partSize * (plan.partCount - 1);
}

export const artifactPrefix = (model: string, uploadId: string) => `artifacts/${model}/${uploadId}`;
/** Where an upload's bytes are stored: `artifact` under its prefix. */
export const uploadKey = (model: string, uploadId: string) => `${artifactPrefix(model, uploadId)}/artifact`;

/** A manifest may name one dataset twice (e.g. train and eval splits of one version); link it once. */
export function uniqueRefs(refs: readonly { id: string; version: string }[]) {
  const seen = new Map<string, { id: string; version: string }>();
  for (const r of refs) seen.set(`${r.id}@${r.version}`, r);
  return [...seen.values()];
}

/** Until when an upload created at `createdAt` may still be registered. */
export function pendingUntil(createdAt: string, ttlSeconds: number | undefined): Date {
  return new Date(Date.parse(createdAt) + (ttlSeconds ?? DEFAULT_PENDING_UPLOAD_TTL_SECONDS) * 1000);
}

export function registrationResult(
  r: Pick<ArtifactRecord, 'artifactId' | 'modelName' | 'version' | 'sha256' | 'signature'>,
  replayed: boolean,
): RegistrationResult {
  return {
    artifactId: r.artifactId,
    modelName: r.modelName,
    version: r.version,
    sha256: r.sha256,
    manifestSignatureId: r.signature.manifestSignatureId,
    signerId: r.signature.signerId,
    replayed,
  };
}

/**
 * An upload belongs to its creator: nobody else registers it, not even as a replay
 * (the record would name the wrong author, and the creator's registration would replay it).
 */
export function assertUploadOwner(upload: Upload | undefined, uploadId: string, principal: Principal): void {
  if (upload && upload.createdBy !== principal.id) {
    throw new AegisError('FORBIDDEN', `upload ${uploadId} was created by another principal; register your own upload`, {
      field: 'uploadId',
    });
  }
}

/**
 * A model's team is set at its first registration and changed only by an admin: a later
 * registration naming another team (or one for a model registered without) is refused.
 */
export function assertTeamAgrees(model: string, current: string | null | undefined, requested: string | undefined): void {
  if (current === undefined || requested === undefined || requested === current) return;
  throw new AegisError(
    'CONFLICT',
    current === null
      ? `team: model ${model} has no team; an admin sets it with PUT /v1/registry/models/${model}/team`
      : `team: model ${model} belongs to team ${current}, not ${requested}; an admin changes it with PUT /v1/registry/models/${model}/team`,
    { field: 'team' },
  );
}

/** Refuses an upload that is gone, past its pending TTL (or marked expired), or made for another model. */
export function assertRegistrable(
  upload: Upload | undefined,
  uploadId: string,
  m: ManifestInput,
  at: { now: Date; pendingUploadTtlSeconds: number | undefined },
): Upload {
  if (!upload) throw new AegisError('UPLOAD_NOT_FOUND', `no upload ${uploadId}`, { field: 'uploadId' });
  const until = pendingUntil(upload.createdAt, at.pendingUploadTtlSeconds);
  if (upload.expiredAt !== null || at.now >= until) {
    throw new AegisError(
      'UPLOAD_EXPIRED',
      `upload ${uploadId} expired at ${until.toISOString()} without being registered; upload the bytes again`,
      { field: 'uploadId' },
    );
  }
  if (upload.modelName !== m.modelName) {
    throw new AegisError('VALIDATION_FAILED', `upload ${uploadId} was created for model ${upload.modelName}`, {
      field: 'manifest.modelName',
    });
  }
  return upload;
}

/** Refuses uploaded bytes whose size differs from the manifest's (checked before hashing them). */
export function assertSizeMatches(m: ManifestInput, size: number): void {
  if (size !== m.artifactSize) {
    throw new AegisError('SIZE_MISMATCH', `uploaded ${size} bytes but the manifest says ${m.artifactSize}`, {
      field: 'manifest.artifactSize',
    });
  }
}

/** Refuses uploaded bytes whose sha256 differs from the manifest's. */
export function assertSha256Matches(m: ManifestInput, sha256: string): void {
  if (sha256 !== m.artifactSha256) {
    throw new AegisError('SHA256_MISMATCH', `uploaded bytes have sha256 ${sha256} but the manifest says ${m.artifactSha256}`, {
      field: 'manifest.artifactSha256',
      details: { expected: m.artifactSha256, actual: sha256 },
    });
  }
}

/** Refuses an artifact whose `baseline.json` is not the one the manifest pins (or is missing). */
export function assertBaselineMatches(m: ManifestInput, baseline: ArtifactBaseline): void {
  if (baseline.sha256 === m.baselineSha256) return;
  const why =
    baseline.sha256 === null
      ? (baseline.problem ?? `the artifact has no ${BASELINE_FILE}`)
      : `its ${BASELINE_FILE} has sha256 ${baseline.sha256}`;
  throw new AegisError('SHA256_MISMATCH', `the manifest pins baselineSha256 ${m.baselineSha256} but ${why}`, {
    field: 'manifest.baselineSha256',
    details: { expected: m.baselineSha256, actual: baseline.sha256 },
  });
}

/**
 * A retrained artifact's parent (`manifest.parent.artifactId`) must be registered (422) and of
 * the same model (409). `parentModel`: the parent's model name, undefined when there is no such artifact.
 */
export function assertParentAgrees(m: ManifestInput, parentModel: string | undefined): void {
  const id = m.parent?.artifactId;
  if (id === undefined) return;
  if (parentModel === undefined)
    throw new AegisError('PARENT_UNKNOWN', `manifest.parent.artifactId ${id} is not a registered artifact`, {
      field: 'manifest.parent.artifactId',
    });
  if (parentModel !== m.modelName)
    throw new AegisError('CONFLICT', `manifest.parent.artifactId ${id} is a ${parentModel} artifact, not ${m.modelName}`, {
      field: 'manifest.parent.artifactId',
      details: { parentModel, modelName: m.modelName },
    });
}

/**
 * The same bytes registered again: a replay only when the manifest is the same (its
 * artifactId may be left out: the registry assigned it); otherwise a conflict naming both.
 */
export function replayOrRefuse(existing: ArtifactRecord, m: ManifestInput): RegistrationResult {
  const candidate = TrainingManifest.safeParse({ ...m, artifactId: m.artifactId ?? existing.artifactId });
  const sha = candidate.success ? manifestSha256(candidate.data) : canonicalSha256(m);
  if (sha === existing.manifestSha256) return registrationResult(existing, true);
  throw new AegisError(
    'ALREADY_REGISTERED_DIFFERENTLY',
    `these bytes are already registered as ${existing.modelName} v${existing.version} (artifact ${existing.artifactId}) with manifest sha256 ${existing.manifestSha256}; this manifest's sha256 is ${sha}. Register the registered manifest again to replay, or new bytes as a new version`,
    {
      field: 'manifest',
      details: {
        artifactId: existing.artifactId,
        version: existing.version,
        registeredManifestSha256: existing.manifestSha256,
        manifestSha256: sha,
      },
    },
  );
}
