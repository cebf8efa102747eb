import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import { canonicalJson } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';
import { assertManifestSize, TrainingManifest, type ManifestInput } from '../../kernel/manifest.js';
import { manifestStatement, statementBytes, type SignatureRecord } from '../../kernel/signatures.js';
import { hashArtifact } from '../../kernel/artifact-baseline.js';
import type { Principal } from '../../kernel/identity.js';
import type { AuditLog } from '../../platform/audit/log.js';
import { GroupCommit, type Written } from '../../platform/audit/group-commit.js';
import { isUniqueViolation } from '../../platform/sql/errors.js';
import type { DB } from '../../platform/sql/schema.js';
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
  type RegistrationResult,
  type StoredArtifact,
  type Upload,
} from './domain.js';
import { findArtifact, findArtifactIdBySha256 } from './store.js';
import { registrationEvents, type SignedRegistration } from './registration-events.js';
import { readRegistrationContext, writeRegistration, type RegistrationContext } from './store-registration.js';
import {
  registrationRequest,
  type AsyncGate,
  type CommitHook,
  type LocatedUpload,
  type PendingRegistration,
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
    assertTeamAgrees(m.modelName, context.model?.team, input.team);
    const earlier = await this.earlierRegistration(request, context);
    if (earlier) return earlier;
    // only a large upload may have a registration verifying (the size is checked against the manifest's below)
    const large = gate !== undefined && m.artifactSize > gate.thresholdBytes;
    const pending = large ? await gate.pending(request) : undefined;
    if (pending) return pending;
    // Cheap checks first: a manifest naming unknown or contradicting datasets costs no hashing.
    await this.d.datasets.checkRefs(m.datasetRefs);
    if (m.parent) assertParentAgrees(m, context.parentModel);
    const located = await this.#locate(request, context.upload);
    if (gate && located.info.size > gate.thresholdBytes) return gate.begin(request, located);
    return this.commit(request, await this.#checkUploadedBytes(request, located));
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
      const signed = await this.#signAndStore(request, bytes);
      try {
        const version = await this.#commits.run({
          lockOrder: `${signed.manifest.modelName}\u0000${request.uploadId}`,
          write: async (tx, lockHead) => {
            const written = await this.#write(tx, request, signed, lockHead);
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

  /**
   * Signs the manifest, stores manifest and signature beside the artifact and retains all
   * three, the artifact claimed at once: no longer a pending upload anything may remove.
   */
  async #signAndStore(request: RegistrationRequest, bytes: UploadedBytes): Promise<SignedRegistration> {
    const m = request.manifest;
    const manifest = TrainingManifest.parse({ ...m, artifactId: m.artifactId ?? randomUUID() });
    const signer = await this.d.keys.provisionalSigner('manifest');
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
    const { storageKey } = bytes.upload;
    // The artifact is retained and claimed beside the sidecars' writes: no longer a pending upload
    // the lifecycle rule (S3) or the expiry job may remove. Should a sidecar fail, the claimed
    // upload is what a crash before the commit leaves too: the expiry job keeps and reports it.
    const [manifestObj, signatureObj] = await Promise.all([
      put(`manifest-${signature.manifestSignatureId}.json`, manifest),
      put(`signature-${signature.manifestSignatureId}.json`, signature),
      this.d.store.claimUpload(storageKey, bytes.versionId, retainUntil),
    ]);
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

  /**
   * The registration's rows, in the transaction it commits in with whatever else this process
   * registers at the time ({@link GroupCommit}): one statement claiming the upload, taking the
   * version (the model's row lock) and, committing alone, locking the chain head; then its audit
   * events, which the group commit appends. Returns the version.
   */
  async #write(
    tx: Transaction<DB>,
    request: RegistrationRequest,
    signed: SignedRegistration,
    lockHead: AuditLog['lockHead'] | undefined,
  ): Promise<Written<number>> {
    const { uploadId, principal, idempotencyKey } = request;
    const model = signed.manifest.modelName;
    const { version, team, claimed, head } = await writeRegistration(
      tx,
      {
        ...signed,
        uploadId,
        team: request.team ?? null,
        ...(idempotencyKey !== undefined && {
          idempotency: { principal: principal.id, idempotencyKey, requestSha256: request.requestSha256 },
        }),
      },
      lockHead,
    );
    // Serialised with the expiry job by the upload's row lock: either it expired first (refused
    // here, and the transaction rolls back) or this registration claimed the upload and the job leaves it alone.
    if (!claimed)
      throw new AegisError('UPLOAD_EXPIRED', `upload ${uploadId} expired while it was being registered; upload the bytes again`, {
        field: 'uploadId',
      });
    // a concurrent first registration may have set another team since the early check
    if (version > 1) assertTeamAgrees(model, team, request.team);
    const events = [
      ...registrationEvents(signed, version),
      ...(version === 1 && team !== null
        ? [{ type: 'model.team.set' as const, actor: principal.id, subject: `model:${model}`, payload: { model, team, previous: null } }]
        : []),
    ];
    return { value: version, events, head };
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
