import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { AegisError } from '../../kernel/errors.js';
import { assertManifestSize, type ManifestInput } from '../../kernel/manifest.js';
import { hashArtifact } from '../../kernel/artifact-baseline.js';
import type { Principal } from '../../kernel/identity.js';
import { GroupCommit } from '../../platform/audit/group-commit.js';
import { isUniqueViolation } from '../../platform/sql/errors.js';
import {
  assertRegistrable,
  assertBaselineMatches,
  assertParentAgrees,
  assertSha256Matches,
  assertSizeMatches,
  assertTeamAgrees,
  assertUploadOwner,
  registrationResult,
  replayOrRefuse,
  type RegistrationResult,
  type Upload,
} from './domain.js';
import { findArtifact, findArtifactIdBySha256 } from './store.js';
import type { SignedRegistration } from './registration-events.js';
import { readRegistrationContext, type RegistrationContext } from './store-registration.js';
import { signAndStore, writeRows } from './registration-commit.js';
import {
  registrationRequest,
  type AsyncGate,
  type CommitHook,
  type LocatedUpload,
  type PendingRegistration,
  type ReceivedBytes,
  type RegistrationRequest,
  type UploadedBytes,
} from './registration-types.js';
import { completeMultipart, type UploadOptions } from './uploads.js';
import type { RegistryDeps } from './deps.js';

export interface RegistrationOptions extends Pick<UploadOptions, 'pendingUploadTtlSeconds' | 'multipartPartBytes'> {
  /** Object-Lock retention applied to artifacts, manifests and signatures. */
  retentionDays: number;
}

/** A transaction found the manifest's signing key retired or revoked since the registration signed: it signs again. */
class SignerRetired extends Error {}

/**
 * Registration of an uploaded artifact, step by step: refuse or replay early, check the
 * bytes, sign and store the sidecars, then commit the rows and audit events in one transaction.
 */
export class Registrar {
  /** concurrent registrations of this process commit together: one transaction, one lock of the chain head */
  readonly #commits: GroupCommit;

  constructor(private readonly d: RegistryDeps & { readonly opts: RegistrationOptions }) {
    this.#commits = new GroupCommit(d.database, d.audit);
  }

  /**
   * See {@link RegistryService.register}. With `gate` (the register route), an upload larger
   * than its threshold is not hashed here: after the checks that need no byte, the gate answers.
   */
  async register(
    input: { uploadId: string; manifest: ManifestInput; team?: string | undefined },
    principal: Principal,
    idempotencyKey?: string,
    gate?: AsyncGate,
  ): Promise<RegistrationResult | PendingRegistration> {
    // The manifest is the request's identity; the uploadId is transport, so a CLI retry
    // that uploads the bytes again under the same key still replays.
    assertManifestSize(input.manifest);
    const request = registrationRequest(input, principal, idempotencyKey);
    const m = request.manifest;
    const context = await this.readContext(request);
    assertUploadOwner(context.upload, input.uploadId, principal);
    const earlier = await this.#earlierOrRefused(request, context);
    if (earlier) return earlier;
    // only a large upload may have a registration verifying (the size is checked against the manifest's below)
    const large = gate !== undefined && m.artifactSize > gate.thresholdBytes;
    const pending = large ? await gate.pending(request) : undefined;
    if (pending) return pending;
    await this.#checkReferences(request, context);
    const located = await this.#locate(request, context.upload);
    if (gate && located.info.size > gate.thresholdBytes) return gate.begin(request, located);
    return this.commit(request, await this.#checkUploadedBytes(request, located));
  }

  /**
   * A one-request registration ({@link RegistryService.registerInline}): `bytes` came with the
   * manifest. The bytes are checked in memory first (size, sha256, baseline); then the steps of
   * {@link register}: refused or replayed before anything is written; then committed, the bytes
   * (`receive`: under the request's new upload id) written beside the sidecars and their upload's
   * row inserted by the registration's statement.
   * Never asynchronous.
   */
  async registerInline(
    input: { manifest: ManifestInput; team?: string | undefined; bytes: Uint8Array },
    principal: Principal,
    idempotencyKey: string | undefined,
    receive: (uploadId: string, sha256: string) => ReceivedBytes,
  ): Promise<RegistrationResult> {
    assertManifestSize(input.manifest);
    const request = registrationRequest({ ...input, uploadId: randomUUID() }, principal, idempotencyKey);
    const m = request.manifest;
    // the bytes are here: checked first, so bytes that are not the manifest's are refused even where it is registered
    assertSizeMatches(m, input.bytes.length);
    const { sha256, baseline } = await hashArtifact(Readable.from([input.bytes]), { baseline: m.baselineSha256 !== undefined });
    assertSha256Matches(m, sha256);
    if (baseline) assertBaselineMatches(m, baseline);
    const context = await this.readContext(request);
    const earlier = await this.#earlierOrRefused(request, context);
    if (earlier) return earlier;
    await this.#checkReferences(request, context);
    return this.commit(request, { ...receive(request.uploadId, sha256), size: input.bytes.length, sha256 });
  }

  /** The first answer of every registration: refused when it contradicts the model's team, or the earlier registration it repeats. */
  async #earlierOrRefused(request: RegistrationRequest, context: RegistrationContext): Promise<RegistrationResult | undefined> {
    assertTeamAgrees(request.manifest.modelName, context.model?.team, request.team);
    return this.earlierRegistration(request, context);
  }

  /** Cheap checks before any byte is read or written: the manifest's datasets registered and agreeing, its parent of the same model. */
  async #checkReferences(request: RegistrationRequest, context: RegistrationContext): Promise<void> {
    const m = request.manifest;
    await this.d.datasets.checkRefs(m.datasetRefs);
    if (m.parent) assertParentAgrees(m, context.parentModel);
  }

  /** Everything the checks need, in one statement. */
  async readContext(request: RegistrationRequest): Promise<RegistrationContext> {
    const m = request.manifest;
    return readRegistrationContext(this.d.database.db, {
      uploadId: request.uploadId,
      modelName: m.modelName,
      sha256: m.artifactSha256,
      principal: request.principal.id,
      ...(request.idempotencyKey !== undefined && { idempotencyKey: request.idempotencyKey }),
      ...(m.parent && { parentId: m.parent.artifactId }),
    });
  }

  /**
   * Signs, stores the sidecars and commits checked bytes: the one commit of both paths (`hook`
   * runs in its transaction). Signed before the transaction with the ring this process holds;
   * the transaction confirms the key is still active once it holds the chain head (a rotation
   * elsewhere: sign again).
   */
  async commit(request: RegistrationRequest, bytes: UploadedBytes, hook?: CommitHook): Promise<RegistrationResult> {
    for (let attempt = 1; ; attempt++) {
      const signed = await signAndStore(this.d, request, bytes);
      try {
        const version = await this.#commits.run({
          lockOrder: `${signed.manifest.modelName}\u0000${request.uploadId}`,
          write: async (tx, lockHead) => {
            const written = await writeRows(tx, request, signed, lockHead, 'write' in bytes ? bytes.newUpload : undefined);
            await hook?.(tx, signed.manifest.artifactId, written.value);
            return written;
          },
          check: async (tx) => {
            if (!(await this.d.keys.isStillActive(tx, 'manifest', signed.signature.signerId))) throw new SignerRetired();
          },
        });
        const { artifactId, modelName } = signed.manifest;
        return registrationResult({ artifactId, modelName, version, sha256: signed.sha256, signature: signed.signature }, false);
      } catch (e) {
        if (e instanceof SignerRetired && attempt < 3) continue;
        return this.#afterConflict(e, request, signed);
      }
    }
  }

  /** The result of an earlier registration this request repeats: by its idempotency key, or by the same bytes. */
  async earlierRegistration(request: RegistrationRequest, context: RegistrationContext): Promise<RegistrationResult | undefined> {
    const { prior } = context;
    if (request.idempotencyKey && prior) {
      if (prior.requestSha256 !== request.requestSha256) {
        throw new AegisError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request body', {
          field: 'Idempotency-Key',
        });
      }
      return registrationResult((await this.#get(prior.artifactId))!, true);
    }
    return context.sameBytes ? replayOrRefuse((await this.#get(context.sameBytes))!, request.manifest) : undefined;
  }

  /** The upload, still registrable, and its object (a multipart upload completed), of the manifest's size. */
  async #locate(request: RegistrationRequest, found: Upload | undefined): Promise<LocatedUpload> {
    const { uploadId, manifest: m } = request;
    const upload = assertRegistrable(found, uploadId, m, {
      now: this.d.clock.now(),
      pendingUploadTtlSeconds: this.d.opts.pendingUploadTtlSeconds,
    });
    const info =
      (await this.d.store.head(upload.storageKey)) ?? (await completeMultipart(this.d.store, upload, this.d.opts.multipartPartBytes));
    assertSizeMatches(m, info.size);
    return { upload, info };
  }

  /**
   * Checks the bytes are the ones the manifest describes (sha256). The sha256 the store computed
   * while receiving the bytes is trusted when it has one: no second read of the bytes (validation
   * and promotion still re-read them). They are read when the store has none, or when the
   * manifest pins a baseline inside them.
   */
  async #checkUploadedBytes(request: RegistrationRequest, { upload, info }: LocatedUpload): Promise<UploadedBytes> {
    const m = request.manifest;
    if (info.receivedSha256 !== undefined && m.baselineSha256 === undefined) {
      assertSha256Matches(m, info.receivedSha256);
      return { upload, versionId: info.versionId, size: info.size, sha256: info.receivedSha256 };
    }
    const sha256 = await this.hashUploaded(request, upload, info.versionId);
    return { upload, versionId: info.versionId, size: info.size, sha256 };
  }

  /** Reads the stored bytes: their sha256 (and baseline, when pinned) must be the manifest's. */
  async hashUploaded(
    request: RegistrationRequest,
    upload: Upload,
    versionId: string,
    progress?: { every: number; report: (bytes: number) => Promise<void> },
  ): Promise<string> {
    const m = request.manifest;
    const { sha256, baseline } = await hashArtifact(await this.d.store.get(upload.storageKey, { versionId }), {
      baseline: m.baselineSha256 !== undefined,
      ...(progress && { progress }),
    });
    assertSha256Matches(m, sha256);
    if (baseline) assertBaselineMatches(m, baseline);
    return sha256;
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
