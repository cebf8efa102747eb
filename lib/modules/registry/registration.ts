import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import { canonicalJson, canonicalSha256 } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';
import { assertManifestSize, manifestSha256, TrainingManifest, type ManifestInput } from '../../kernel/manifest.js';
import { manifestStatement, statementBytes, type SignatureRecord } from '../../kernel/signatures.js';
import { hashArtifact } from '../../kernel/artifact-baseline.js';
import type { Principal } from '../../kernel/identity.js';
import { isUniqueViolation } from '../../platform/sql/errors.js';
import type { DB } from '../../platform/sql/schema.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { ObjectStore } from '../../platform/ports/object-store.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { DatasetService } from '../datasets/service.js';
import type { KeyService } from '../keys/service.js';
import {
  artifactPrefix,
  assertRegistrable,
  assertBaselineMatches,
  assertParentAgrees,
  assertSha256Matches,
  assertSizeMatches,
  assertTeamAgrees,
  assertUploadOwner,
  registrationResult,
  replayOrRefuse,
  type Registration,
  type RegistrationResult,
  type StoredArtifact,
  type Upload,
} from './domain.js';
import { findArtifact, findArtifactIdBySha256, findArtifactModelRef, findModelRef, insertArtifact, nextModelVersion } from './store.js';
import { claimUpload, findIdempotencyKey, findUpload, insertIdempotencyKey } from './store-uploads.js';
import type { UploadOptions } from './uploads.js';

export interface RegistrationOptions extends Pick<UploadOptions, 'pendingUploadTtlSeconds'> {
  /** Object-Lock retention applied to artifacts, manifests and signatures. */
  retentionDays: number;
}

/** One registration request, as the steps of {@link Registrar.register} see it. */
interface RegistrationRequest {
  uploadId: string;
  manifest: ManifestInput;
  /** the model's team label, set when this registration creates the model */
  team: string | undefined;
  principal: Principal;
  idempotencyKey: string | undefined;
  /** the request's identity: the sha256 of the submitted manifest */
  requestSha256: string;
}

/** The uploaded bytes as checked against the manifest. */
interface UploadedBytes {
  upload: Upload;
  versionId: string;
  size: number;
  sha256: string;
}

/** A registration signed and with its sidecars stored: what the transaction commits (the version is taken there). */
type SignedRegistration = Omit<Registration, 'version' | 'createdAt'> & { createdAt: Date };

/**
 * Registration of an uploaded artifact, step by step: refuse or replay early, check the
 * bytes, sign and store the sidecars, then commit the rows and audit events in one transaction.
 */
export class Registrar {
  constructor(
    private readonly d: {
      database: Database;
      store: ObjectStore;
      keys: KeyService;
      datasets: DatasetService;
      audit: AuditLog;
      clock: Clock;
      opts: RegistrationOptions;
    },
  ) {}

  /** See {@link RegistryService.register}. */
  async register(
    input: { uploadId: string; manifest: ManifestInput; team?: string | undefined },
    principal: Principal,
    idempotencyKey?: string,
  ): Promise<RegistrationResult> {
    // The manifest is the request's identity; the uploadId is transport, so a CLI retry
    // that uploads the bytes again under the same key still replays.
    assertManifestSize(input.manifest);
    const request: RegistrationRequest = {
      uploadId: input.uploadId,
      manifest: input.manifest,
      team: input.team,
      principal,
      idempotencyKey,
      requestSha256: canonicalSha256(input.manifest),
    };
    const upload = await findUpload(this.d.database.db, input.uploadId);
    assertUploadOwner(upload, input.uploadId, principal);
    const model = input.manifest.modelName;
    assertTeamAgrees(model, (await findModelRef(this.d.database.db, model))?.team, input.team);
    const earlier = await this.#earlierRegistration(request);
    if (earlier) return earlier;
    // Cheap checks first: a manifest naming unknown or contradicting datasets costs no hashing.
    await this.d.datasets.checkRefs(input.manifest.datasetRefs);
    if (input.manifest.parent)
      assertParentAgrees(input.manifest, (await findArtifactModelRef(this.d.database.db, input.manifest.parent.artifactId))?.name);
    const bytes = await this.#checkUploadedBytes(request, upload);
    const signed = await this.#signAndStore(request, bytes);
    try {
      await this.d.database.db.transaction().execute((tx) => this.#commit(tx, request, signed));
    } catch (e) {
      return this.#afterConflict(e, request, signed);
    }
    return registrationResult((await this.#get(signed.manifest.artifactId))!, false);
  }

  /** The result of an earlier registration this request repeats: by its idempotency key, or by the same bytes. */
  async #earlierRegistration(request: RegistrationRequest): Promise<RegistrationResult | undefined> {
    if (request.idempotencyKey) {
      const prior = await findIdempotencyKey(this.d.database.db, request.principal.id, request.idempotencyKey);
      if (prior) {
        if (prior.requestSha256 !== request.requestSha256) {
          throw new AegisError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request body', {
            field: 'Idempotency-Key',
          });
        }
        return registrationResult((await this.#get(prior.artifactId))!, true);
      }
    }
    const m = request.manifest;
    const existing = await findArtifactIdBySha256(this.d.database.db, m.modelName, m.artifactSha256);
    return existing ? replayOrRefuse((await this.#get(existing))!, m) : undefined;
  }

  /**
   * Checks the upload is still registrable and its bytes are the ones the manifest describes
   * (size, then sha256). The sha256 the store computed while receiving the bytes is trusted
   * when it has one: no second read of the bytes (validation and promotion still re-read them).
   * They are read when the store has none, or when the manifest pins a baseline inside them.
   */
  async #checkUploadedBytes(request: RegistrationRequest, found: Upload | undefined): Promise<UploadedBytes> {
    const { uploadId, manifest: m } = request;
    const upload = assertRegistrable(found, uploadId, m, {
      now: this.d.clock.now(),
      pendingUploadTtlSeconds: this.d.opts.pendingUploadTtlSeconds,
    });
    const info = await this.d.store.head(upload.storageKey);
    if (!info) throw new AegisError('UPLOAD_NOT_FOUND', `nothing was uploaded for ${uploadId}`, { field: 'uploadId' });
    assertSizeMatches(m, info.size);
    if (info.receivedSha256 !== undefined && m.baselineSha256 === undefined) {
      assertSha256Matches(m, info.receivedSha256);
      return { upload, versionId: info.versionId, size: info.size, sha256: info.receivedSha256 };
    }
    const { sha256, baseline } = await hashArtifact(await this.d.store.get(upload.storageKey, { versionId: info.versionId }), {
      baseline: m.baselineSha256 !== undefined,
    });
    assertSha256Matches(m, sha256);
    if (baseline) assertBaselineMatches(m, baseline);
    return { upload, versionId: info.versionId, size: info.size, sha256 };
  }

  /**
   * Signs the manifest, stores manifest and signature beside the artifact and retains all
   * three; the artifact is then claimed: no longer a pending upload anything may remove.
   */
  async #signAndStore(request: RegistrationRequest, bytes: UploadedBytes): Promise<SignedRegistration> {
    const m = request.manifest;
    const manifest = TrainingManifest.parse({ ...m, artifactId: m.artifactId ?? randomUUID() });
    const signer = await this.d.keys.activeSigner('manifest');
    const now = this.d.clock.now();
    const sigBase = { manifestSignatureId: randomUUID(), signerId: signer.kid, ts: now.toISOString() };
    const signatureBytes = await signer.sign(statementBytes(manifestStatement(manifest, sigBase)));
    const signature: SignatureRecord = { ...sigBase, alg: signer.alg, signature: signatureBytes.toString('base64') };

    const prefix = artifactPrefix(m.modelName, request.uploadId);
    const retainUntil = new Date(now.getTime() + this.d.opts.retentionDays * 86_400_000);
    // Named by the signature id: a retry after a crash writes new sidecars instead of
    // colliding with retained ones; the crashed attempt's become orphans parity reports.
    const put = (name: string, value: unknown) =>
      this.d.store.put(`${prefix}/${name}`, `${canonicalJson(value)}\n`, { retainUntil, contentType: 'application/json' });
    const manifestObj = await put(`manifest-${signature.manifestSignatureId}.json`, manifest);
    const signatureObj = await put(`signature-${signature.manifestSignatureId}.json`, signature);
    const { storageKey } = bytes.upload;
    await this.d.store.retain(storageKey, bytes.versionId, retainUntil);
    // Claimed: no longer a pending upload the lifecycle rule (S3) or the expiry job may remove.
    await this.d.store.clearPendingUpload(storageKey, bytes.versionId);
    const storage: StoredArtifact = {
      key: storageKey,
      versionId: bytes.versionId,
      manifestKey: manifestObj.key,
      manifestVersionId: manifestObj.versionId,
      signatureKey: signatureObj.key,
      signatureVersionId: signatureObj.versionId,
    };
    return { manifest, signature, sha256: bytes.sha256, size: bytes.size, storage, createdBy: request.principal.id, createdAt: now };
  }

  /** The registration's one transaction: claims the upload, takes the version, writes the rows and their audit events. */
  async #commit(tx: Transaction<DB>, request: RegistrationRequest, signed: SignedRegistration): Promise<void> {
    const { uploadId, principal, idempotencyKey } = request;
    const now = signed.createdAt;
    // Serialised with the expiry job by the row lock: either it expired first (refused
    // here) or this registration claims the upload and the job leaves it alone.
    if (!(await claimUpload(tx, uploadId, now)))
      throw new AegisError('UPLOAD_EXPIRED', `upload ${uploadId} expired while it was being registered; upload the bytes again`, {
        field: 'uploadId',
      });
    const model = signed.manifest.modelName;
    const { version, team } = await nextModelVersion(tx, {
      name: model,
      team: request.team ?? null,
      createdBy: principal.id,
      createdAt: now,
    });
    // a concurrent first registration may have set another team since the early check
    if (version > 1) assertTeamAgrees(model, team, request.team);
    await insertArtifact(tx, { ...signed, version });
    await this.#appendRegistrationEvents(tx, signed, version);
    if (version === 1 && team !== null)
      await this.d.audit.append(tx, {
        type: 'model.team.set',
        actor: principal.id,
        subject: `model:${model}`,
        payload: { model, team, previous: null },
      });
    if (idempotencyKey) {
      const { requestSha256 } = request;
      await insertIdempotencyKey(tx, {
        principal: principal.id,
        idempotencyKey,
        requestSha256,
        artifactId: signed.manifest.artifactId,
        createdAt: now,
      });
    }
  }

  async #appendRegistrationEvents(tx: Transaction<DB>, signed: SignedRegistration, version: number): Promise<void> {
    const { manifest, signature, storage, createdBy } = signed;
    const artifactId = manifest.artifactId;
    await this.d.audit.append(tx, {
      type: 'manifest.signed',
      actor: createdBy,
      subject: `artifact:${artifactId}`,
      payload: {
        manifestSignatureId: signature.manifestSignatureId,
        artifactId,
        manifestSha256: manifestSha256(manifest),
        signerId: signature.signerId,
        alg: signature.alg,
        ts: signature.ts,
      },
    });
    await this.d.audit.append(tx, {
      type: 'artifact.registered',
      actor: createdBy,
      subject: `artifact:${artifactId}`,
      payload: {
        artifactId,
        modelName: manifest.modelName,
        version,
        sha256: signed.sha256,
        size: signed.size,
        manifestSha256: manifestSha256(manifest),
        manifestSignatureId: signature.manifestSignatureId,
        storage,
        createdAt: signed.createdAt.toISOString(),
      },
    });
  }

  /** A unique violation on commit: a concurrent registration of the same model+sha256 (or idempotency key) won the race. */
  async #afterConflict(e: unknown, request: RegistrationRequest, signed: SignedRegistration): Promise<RegistrationResult> {
    if (!isUniqueViolation(e)) throw e;
    const m = request.manifest;
    const winner = await findArtifactIdBySha256(this.d.database.db, m.modelName, signed.sha256);
    if (winner) return replayOrRefuse((await this.#get(winner))!, m);
    throw new AegisError('CONFLICT', `artifact ${signed.manifest.artifactId} already exists`, { field: 'manifest.artifactId', cause: e });
  }

  async #get(artifactId: string) {
    return findArtifact(this.d.database.db, { artifactId });
  }
}
