import type { ColumnType } from 'kysely';

type Ts = ColumnType<Date | string, Date, Date>;
/** int8 comes back as string from pg and as number from the Data API. */
type Int8 = ColumnType<string | number, number, number>;
type Nullable<T> = ColumnType<T | null, T | null | undefined, T | null>;

/** Asynchronous registrations (migration 0019; the registry module's store-async.ts owns them). */
export interface RegistrationsTable {
  registration_id: string;
  upload_id: string;
  model_name: string;
  created_by: string;
  /** JSON of the authorised caller */
  principal: string;
  request_sha256: string;
  /** canonical JSON of the submitted manifest */
  manifest: string;
  team: Nullable<string>;
  idempotency_key: Nullable<string>;
  version_id: string;
  /** verifying | registered | failed */
  status: string;
  total_bytes: Int8;
  bytes_hashed: ColumnType<string | number, number | undefined, number>;
  artifact_id: Nullable<string>;
  version: Nullable<number>;
  error_code: Nullable<string>;
  error_message: Nullable<string>;
  created_at: Ts;
  updated_at: Ts;
}
