/**
 * The registry module's tables `uploads` (pending uploads) and `idempotency_keys` (retried
 * registrations): with store.ts, the only code that builds SQL on the module's tables.
 */
import type { Executor } from '../../platform/ports/database.js';
import { toIso, toIsoOrNull } from '../../platform/sql/schema.js';
import type { Upload } from './domain.js';

// ---- uploads

export async function insertUpload(
  x: Executor,
  u: { uploadId: string; modelName: string; storageKey: string; createdBy: string; createdAt: Date; expiresAt: Date; maxSize: number },
): Promise<void> {
  await x
    .insertInto('uploads')
    .values({
      upload_id: u.uploadId,
      model_name: u.modelName,
      storage_key: u.storageKey,
      created_by: u.createdBy,
      created_at: u.createdAt,
      expires_at: u.expiresAt,
      max_size: u.maxSize,
    })
    .execute();
}

export async function findUpload(x: Executor, uploadId: string): Promise<Upload | undefined> {
  const row = await x.selectFrom('uploads').selectAll().where('upload_id', '=', uploadId).executeTakeFirst();
  if (!row) return undefined;
  const { model_name: modelName, storage_key: storageKey, created_by: createdBy } = row;
  return { uploadId, modelName, storageKey, createdBy, createdAt: toIso(row.created_at), expiredAt: toIsoOrNull(row.expired_at) };
}

/**
 * Marks the upload registered unless it expired. The row lock serialises this with the
 * expiry job's {@link markUploadExpired}: exactly one of them wins. False when expiry won.
 */
export async function claimUpload(x: Executor, uploadId: string, at: Date): Promise<boolean> {
  const row = await x
    .updateTable('uploads')
    .set({ registered_at: at })
    .where('upload_id', '=', uploadId)
    .where('expired_at', 'is', null)
    .returning('upload_id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Unregistered uploads created at or before `cutoff`, or already marked expired: oldest first, at most `limit`. */
export async function findExpiringUploads(x: Executor, q: { cutoff: Date; limit: number }) {
  const rows = await x
    .selectFrom('uploads')
    .select(['upload_id', 'storage_key', 'expired_at'])
    .where('registered_at', 'is', null)
    .where((eb) => eb.or([eb('expired_at', 'is not', null), eb('created_at', '<=', q.cutoff)]))
    .orderBy('created_at')
    .limit(q.limit)
    .execute();
  return rows.map((r) => ({ uploadId: r.upload_id, storageKey: r.storage_key, expired: r.expired_at !== null }));
}

/** Marks the upload expired unless it was registered or expired meanwhile; false then. See {@link claimUpload}. */
export async function markUploadExpired(x: Executor, uploadId: string, at: Date): Promise<boolean> {
  const row = await x
    .updateTable('uploads')
    .set({ expired_at: at })
    .where('upload_id', '=', uploadId)
    .where('registered_at', 'is', null)
    .where('expired_at', 'is', null)
    .returning('upload_id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function deleteUnregisteredUpload(x: Executor, uploadId: string): Promise<void> {
  await x.deleteFrom('uploads').where('upload_id', '=', uploadId).where('registered_at', 'is', null).execute();
}

// ---- idempotency_keys

/** Remembers the request a principal's idempotency key was used with, and what it registered. */
export async function insertIdempotencyKey(
  x: Executor,
  k: { principal: string; idempotencyKey: string; requestSha256: string; artifactId: string; createdAt: Date },
): Promise<void> {
  await x
    .insertInto('idempotency_keys')
    .values({
      principal: k.principal,
      idempotency_key: k.idempotencyKey,
      request_sha256: k.requestSha256,
      artifact_id: k.artifactId,
      created_at: k.createdAt,
    })
    .execute();
}

/** The request a principal's idempotency key was first used with, and the artifact it registered. */
export async function findIdempotencyKey(
  x: Executor,
  principal: string,
  idempotencyKey: string,
): Promise<{ requestSha256: string; artifactId: string } | undefined> {
  const row = await x
    .selectFrom('idempotency_keys')
    .select(['request_sha256', 'artifact_id'])
    .where('principal', '=', principal)
    .where('idempotency_key', '=', idempotencyKey)
    .executeTakeFirst();
  return row ? { requestSha256: row.request_sha256, artifactId: row.artifact_id } : undefined;
}

/** The storage keys of uploads neither registered nor expired (parity). */
export async function openUploadKeys(x: Executor): Promise<string[]> {
  const rows = await x
    .selectFrom('uploads')
    .select('storage_key')
    .where('registered_at', 'is', null)
    .where('expired_at', 'is', null)
    .execute();
  return rows.map((u) => u.storage_key);
}
