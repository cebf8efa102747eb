/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run on the untyped schema of their time */
import { sql, type Kysely } from 'kysely';

// Asynchronous registrations of large artifacts (issue 25). A register request over
// AEGIS_REGISTER_ASYNC_BYTES is recorded here after its cheap checks and answered 202; the
// `register` state machine hashes the object (`bytes_hashed` its progress) and commits the
// record through the synchronous path's code, marking the row `registered` in the same
// transaction, or marks it `failed` with its error. Operational state of the registry module,
// not a fact of the registry: not chained, not restored (a registration in flight during a
// restore is requested again). At most one `verifying` registration per caller and request
// (the partial unique index): a replay finds it.
export const registrations0019 = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('registrations')
      .addColumn('registration_id', 'text', (c) => c.primaryKey())
      .addColumn('upload_id', 'text', (c) => c.notNull())
      .addColumn('model_name', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      // the caller as it was authorised (JSON): the commit registers as them
      .addColumn('principal', 'text', (c) => c.notNull())
      // the request's identity: the sha256 of the canonical submitted manifest
      .addColumn('request_sha256', 'text', (c) => c.notNull())
      // canonical JSON of the submitted manifest
      .addColumn('manifest', 'text', (c) => c.notNull())
      .addColumn('team', 'text')
      .addColumn('idempotency_key', 'text')
      // the object version whose bytes are hashed
      .addColumn('version_id', 'text', (c) => c.notNull())
      // verifying | registered | failed
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('total_bytes', 'bigint', (c) => c.notNull())
      .addColumn('bytes_hashed', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('artifact_id', 'text')
      .addColumn('version', 'integer')
      .addColumn('error_code', 'text')
      .addColumn('error_message', 'text')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
      .execute();
    await sql`CREATE UNIQUE INDEX registrations_verifying ON registrations (created_by, request_sha256) WHERE status = 'verifying'`.execute(
      db,
    );
  },
};
