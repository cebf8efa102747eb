/**
 * The registry module's table `registrations` (asynchronous registrations, migration 0019): with
 * store.ts, store-uploads.ts and store-registration.ts the only code that builds SQL on the module's tables.
 */
import type { Selectable } from 'kysely';
import type { Executor } from '../../platform/ports/database.js';
import type { DB } from '../../platform/sql/schema.js';
import { toIso } from '../../platform/sql/schema.js';

export type AsyncStatus = 'verifying' | 'registered' | 'failed';

/** One asynchronous registration: the request it carries out, and how far it got. */
export interface AsyncRegistrationRow {
  registrationId: string;
  uploadId: string;
  modelName: string;
  createdBy: string;
  /** JSON of the authorised caller */
  principal: string;
  requestSha256: string;
  /** canonical JSON of the submitted manifest */
  manifest: string;
  team: string | null;
  idempotencyKey: string | null;
  versionId: string;
  status: AsyncStatus;
  totalBytes: number;
  bytesHashed: number;
  artifactId: string | null;
  version: number | null;
  error: { code: string; message: string } | null;
  createdAt: string;
}

const fromRow = (r: Selectable<DB['registrations']>): AsyncRegistrationRow => ({
  registrationId: r.registration_id,
  uploadId: r.upload_id,
  modelName: r.model_name,
  createdBy: r.created_by,
  principal: r.principal,
  requestSha256: r.request_sha256,
  manifest: r.manifest,
  team: r.team,
  idempotencyKey: r.idempotency_key,
  versionId: r.version_id,
  status: r.status as AsyncStatus,
  totalBytes: Number(r.total_bytes),
  bytesHashed: Number(r.bytes_hashed),
  artifactId: r.artifact_id,
  version: r.version,
  error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
  createdAt: toIso(r.created_at),
});

/** Records a `verifying` registration; a unique violation when the caller has one of the same request (a concurrent replay). */
export async function insertAsyncRegistration(
  x: Executor,
  r: Omit<AsyncRegistrationRow, 'status' | 'bytesHashed' | 'artifactId' | 'version' | 'error' | 'createdAt'> & { at: Date },
): Promise<void> {
  await x
    .insertInto('registrations')
    .values({
      registration_id: r.registrationId,
      upload_id: r.uploadId,
      model_name: r.modelName,
      created_by: r.createdBy,
      principal: r.principal,
      request_sha256: r.requestSha256,
      manifest: r.manifest,
      team: r.team,
      idempotency_key: r.idempotencyKey,
      version_id: r.versionId,
      status: 'verifying',
      total_bytes: r.totalBytes,
      created_at: r.at,
      updated_at: r.at,
    })
    .execute();
}

export async function findAsyncRegistration(x: Executor, registrationId: string): Promise<AsyncRegistrationRow | undefined> {
  const row = await x.selectFrom('registrations').selectAll().where('registration_id', '=', registrationId).executeTakeFirst();
  return row && fromRow(row);
}

/** The caller's `verifying` registration of this request (at most one: the partial unique index). */
export async function findVerifying(x: Executor, createdBy: string, requestSha256: string): Promise<AsyncRegistrationRow | undefined> {
  const row = await x
    .selectFrom('registrations')
    .selectAll()
    .where('created_by', '=', createdBy)
    .where('request_sha256', '=', requestSha256)
    .where('status', '=', 'verifying')
    .executeTakeFirst();
  return row && fromRow(row);
}

/** The hashing's progress, while the registration is verifying. */
export async function setBytesHashed(x: Executor, registrationId: string, bytes: number, at: Date): Promise<void> {
  await x
    .updateTable('registrations')
    .set({ bytes_hashed: bytes, updated_at: at })
    .where('registration_id', '=', registrationId)
    .where('status', '=', 'verifying')
    .execute();
}

/** Ends a verifying registration (registered with its artifact, or failed with its error); false when it had already ended. */
export async function finishAsyncRegistration(
  x: Executor,
  registrationId: string,
  end: { status: 'registered'; artifactId: string; version: number } | { status: 'failed'; code: string; message: string },
  at: Date,
): Promise<boolean> {
  const row = await x
    .updateTable('registrations')
    .set(
      end.status === 'registered'
        ? { status: 'registered', artifact_id: end.artifactId, version: end.version, updated_at: at }
        : { status: 'failed', error_code: end.code, error_message: end.message.slice(0, 2000), updated_at: at },
    )
    .where('registration_id', '=', registrationId)
    .where('status', '=', 'verifying')
    .returning('registration_id')
    .executeTakeFirst();
  return row !== undefined;
}

/** The ids of registrations still verifying, oldest first (at most `limit`). */
export async function listVerifying(x: Executor, limit: number): Promise<string[]> {
  const rows = await x
    .selectFrom('registrations')
    .select('registration_id')
    .where('status', '=', 'verifying')
    .orderBy('created_at')
    .limit(limit)
    .execute();
  return rows.map((r) => r.registration_id);
}
