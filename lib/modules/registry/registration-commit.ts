/**
 * The two halves of a registration's commit ({@link Registrar.commit}): the signed manifest and
 * its sidecars stored beside the artifact (before any row names them), then the rows and audit
 * events written in the transaction.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import { canonicalJson } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';
import { TrainingManifest } from '../../kernel/manifest.js';
import { manifestStatement, statementBytes, type SignatureRecord } from '../../kernel/signatures.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { Written } from '../../platform/audit/group-commit.js';
import type { DB } from '../../platform/sql/schema.js';
import { artifactPrefix, assertTeamAgrees, type StoredArtifact } from './domain.js';
import { registrationEvents, type SignedRegistration } from './registration-events.js';
import { writeRegistration } from './store-registration.js';
import type { NewUpload } from './store-uploads.js';
import type { RegistrationRequest, UploadedBytes } from './registration-types.js';
import type { RegistryDeps } from './deps.js';

/**
 * Signs the manifest, stores manifest and signature beside the artifact and retains all
 * three, the artifact claimed (or, bytes that came in the request, written) at once: no longer
 * a pending upload anything may remove.
 */
export async function signAndStore(
  d: Pick<RegistryDeps, 'keys' | 'clock' | 'store'> & { readonly opts: { retentionDays: number } },
  request: RegistrationRequest,
  bytes: UploadedBytes,
): Promise<SignedRegistration> {
  const m = request.manifest;
  const manifest = TrainingManifest.parse({ ...m, artifactId: m.artifactId ?? randomUUID() });
  const signer = await d.keys.provisionalSigner('manifest');
  const now = d.clock.now();
  const sigBase = { manifestSignatureId: randomUUID(), signerId: signer.kid, ts: now.toISOString() };
  const signatureBytes = await signer.sign(statementBytes(manifestStatement(manifest, sigBase)));
  const signature: SignatureRecord = { ...sigBase, alg: signer.alg, signature: signatureBytes.toString('base64') };

  const prefix = artifactPrefix(m.modelName, request.uploadId);
  const retainUntil = new Date(now.getTime() + d.opts.retentionDays * 86_400_000);
  // Named by the signature id: a retry after a crash writes new sidecars instead of
  // colliding with retained ones; the crashed attempt's become orphans parity reports.
  const put = (name: string, value: unknown) =>
    d.store.put(`${prefix}/${name}`, `${canonicalJson(value)}\n`, { retainUntil, contentType: 'application/json' });
  // The artifact is retained and claimed beside the sidecars' writes (bytes that came in the
  // request are written so): no longer a pending upload the lifecycle rule (S3) or the expiry
  // job may remove. Should a sidecar fail, the claimed upload is what a crash before the commit
  // leaves too: the expiry job keeps and reports it (written bytes no row names: storage parity).
  const { storageKey, artifact } =
    'versionId' in bytes
      ? {
          storageKey: bytes.upload.storageKey,
          artifact: d.store.claimUpload(bytes.upload.storageKey, bytes.versionId, retainUntil).then(() => bytes.versionId),
        }
      : { storageKey: bytes.newUpload.storageKey, artifact: bytes.write(retainUntil).then((info) => info.versionId) };
  // all three settle before an error is thrown: no write of this registration outlives its answer
  const [manifestObj, signatureObj, versionId] = await allOrFirstError([
    put(`manifest-${signature.manifestSignatureId}.json`, manifest),
    put(`signature-${signature.manifestSignatureId}.json`, signature),
    artifact,
  ] as const);
  const storage: StoredArtifact = {
    key: storageKey,
    versionId,
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
export async function writeRows(
  tx: Transaction<DB>,
  request: RegistrationRequest,
  signed: SignedRegistration,
  lockHead: AuditLog['lockHead'] | undefined,
  newUpload?: NewUpload,
): Promise<Written<number>> {
  const { uploadId, principal, idempotencyKey } = request;
  const model = signed.manifest.modelName;
  const { version, team, claimed, head } = await writeRegistration(
    tx,
    {
      ...signed,
      uploadId,
      ...(newUpload && { newUpload }),
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

/** Like `Promise.all`, but waits for every promise to settle before it throws the first error. */
async function allOrFirstError<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
