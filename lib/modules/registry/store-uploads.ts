/**
 * The registry module's tables `uploads` (pending uploads) and `idempotency_keys` (retried
 * registrations): with store.ts, the only code that builds SQL on the module's tables.
 */
import type { Executor } from '../../platform/ports/database.js';
import { toIso, toIsoOrNull } from '../../platform/sql/schema.js';
import type { Upload } from './domain.js';

// ---- uploads

/** An upload as its row is written: when it was created, until when its URL takes bytes. */
export interface NewUpload {
  uploadId: string;
  modelName: string;
  storageKey: string;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  maxSize: number;
  /** a multipart upload's part size; null for a single upload */
  partBytes: number | null;
}

/** The `uploads` row of a new upload (also what a one-request registration inserts, registered, in its statement). */
export const uploadRow = (u: NewUpload) => ({
  upload_id: u.uploadId,
  model_name: u.modelName,
  storage_key: u.storageKey,
  created_by: u.createdBy,
  created_at: u.createdAt,
  expires_at: u.expiresAt,
  max_size: u.maxSize,
  part_bytes: u.partBytes,
});

export async function insertUpload(x: Executor, u: NewUpload): Promise<void> {
  await x.insertInto('uploads').values(uploadRow(u)).execute();
}

/** An upload, whether registered, or undefined when there is none (the parts route's one read). */
export async function findUpload(x: Executor, uploadId: string): Promise<(Upload & { registered: boolean }) | undefined> {
  const row = await x
    .selectFrom('uploads')
    .select(['upload_id', 'model_name', 'storage_key', 'created_by', 'created_at', 'expired_at', 'registered_at', 'max_size', 'part_bytes'])
    .where('upload_id', '=', uploadId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    uploadId: row.upload_id,
    modelName: row.model_name,
    storageKey: row.storage_key,
    createdBy: row.created_by,
    createdAt: toIso(row.created_at),
    expiredAt: toIsoOrNull(row.expired_at),
    maxSize: Number(row.max_size),
    partBytes: row.part_bytes === null ? null : Number(row.part_bytes),
    registered: row.registered_at !== null,
  };
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

/** Marks the upload expired unless it was registered or expired meanwhile; false then. The upload's row lock serialises it with a registration's claim (`writeRegistration`): exactly one wins. */
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
