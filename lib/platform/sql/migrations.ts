import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { LATER_MIGRATIONS } from './migrations-later.js';

/** Versioned migrations, as a static provider (survives esbuild bundling). Never edit a shipped one; SQL runs on PostgreSQL 15 and PGlite (18). */
const migrations: Record<string, Migration> = {
  '0001_registry': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('models')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('latest_version', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable('artifacts')
        .addColumn('artifact_id', 'text', (c) => c.primaryKey())
        .addColumn('model_name', 'text', (c) => c.notNull().references('models.name'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('sha256', 'char(64)', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('storage_key', 'text', (c) => c.notNull())
        .addColumn('storage_version_id', 'text', (c) => c.notNull())
        .addColumn('manifest_key', 'text', (c) => c.notNull())
        .addColumn('manifest_version_id', 'text', (c) => c.notNull())
        .addColumn('signature_key', 'text', (c) => c.notNull())
        .addColumn('signature_version_id', 'text', (c) => c.notNull())
        .addColumn('manifest', 'text', (c) => c.notNull())
        .addColumn('manifest_sha256', 'char(64)', (c) => c.notNull())
        .addColumn('manifest_signature_id', 'text', (c) => c.notNull().unique())
        .addColumn('signer_id', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addUniqueConstraint('artifacts_model_version_uq', ['model_name', 'version'])
        .addUniqueConstraint('artifacts_model_sha256_uq', ['model_name', 'sha256'])
        .execute();
      await db.schema
        .createTable('manifest_signatures')
        .addColumn('manifest_signature_id', 'text', (c) => c.primaryKey())
        .addColumn('artifact_id', 'text', (c) => c.notNull().references('artifacts.artifact_id'))
        .addColumn('signer_id', 'text', (c) => c.notNull())
        .addColumn('alg', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('ts', 'timestamptz', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('signing_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('alg', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('backend', 'text', (c) => c.notNull())
        .addColumn('key_ref', 'text', (c) => c.notNull())
        .addColumn('not_before', 'timestamptz', (c) => c.notNull())
        .addColumn('not_after', 'timestamptz')
        .addColumn('revoked_at', 'timestamptz')
        .execute();
      await db.schema
        .createTable('uploads')
        .addColumn('upload_id', 'text', (c) => c.primaryKey())
        .addColumn('model_name', 'text', (c) => c.notNull())
        .addColumn('storage_key', 'text', (c) => c.notNull().unique())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
        .addColumn('max_size', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('idempotency_keys')
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('idempotency_key', 'text', (c) => c.notNull())
        .addColumn('request_sha256', 'char(64)', (c) => c.notNull())
        .addColumn('artifact_id', 'text', (c) => c.notNull().references('artifacts.artifact_id'))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['principal', 'idempotency_key'])
        .execute();
      await db.schema
        .createTable('api_tokens')
        .addColumn('token_sha256', 'char(64)', (c) => c.primaryKey())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('revoked_at', 'timestamptz')
        .execute();
    },
  },
  '0002_datasets': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('datasets')
        .addColumn('dataset_id', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('checksum', 'text', (c) => c.notNull())
        .addColumn('uri', 'text', (c) => c.notNull())
        .addColumn('schema', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint('datasets_pk', ['dataset_id', 'version'])
        .execute();
      await db.schema
        .createTable('artifact_datasets')
        .addColumn('artifact_id', 'text', (c) => c.notNull().references('artifacts.artifact_id'))
        .addColumn('dataset_id', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('artifact_datasets_pk', ['artifact_id', 'dataset_id', 'version'])
        .addForeignKeyConstraint('artifact_datasets_dataset_fk', ['dataset_id', 'version'], 'datasets', ['dataset_id', 'version'])
        .execute();
      await db.schema.createIndex('artifact_datasets_by_dataset').on('artifact_datasets').columns(['dataset_id', 'version']).execute();
    },
  },
  '0003_audit': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('audit_events')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('event_id', 'text', (c) => c.notNull().unique())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        // canonical JSON, and the ISO timestamp exactly as hashed
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('ts', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'char(64)', (c) => c.notNull())
        .addColumn('hash', 'char(64)', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('signer_id', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_events_by_subject').on('audit_events').columns(['subject', 'seq']).execute();
      await db.schema.createIndex('audit_events_by_type').on('audit_events').columns(['type', 'seq']).execute();
      // One row: the chain head. Appends lock it, so concurrent writers never fork the chain.
      await db.schema
        .createTable('audit_head')
        .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('hash', 'char(64)', (c) => c.notNull())
        .execute();
      await db
        .insertInto('audit_head')
        .values({ id: 1, seq: 0, hash: '0'.repeat(64) })
        .execute();
    },
  },
  '0004_promotions': {
    async up(db: Kysely<any>) {
      // approver keys belong to a principal: their owner's approvals of their own requests do not count
      await db.schema.alterTable('signing_keys').addColumn('owner', 'text').execute();
      await db.schema
        .createTable('promotions')
        .addColumn('promotion_id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('artifact_id', 'text', (c) => c.notNull().references('artifacts.artifact_id'))
        .addColumn('model_name', 'text', (c) => c.notNull())
        .addColumn('target_env', 'text', (c) => c.notNull())
        .addColumn('manifest_signature_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('requested_by', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('canary', 'text', (c) => c.notNull())
        .addColumn('policy_decision', 'text', (c) => c.notNull())
        .addColumn('threshold', 'integer')
        // set while the promotion is in flight: one per model and environment (unique)
        .addColumn('in_flight_key', 'text', (c) => c.unique())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addColumn('applied_at', 'timestamptz')
        .addColumn('record_signature', 'text')
        // where the rollout is (stage, percent, inconclusive count): a restart resumes from here
        .addColumn('rollout_state', 'text')
        .execute();
      await db.schema.createIndex('promotions_by_artifact').on('promotions').columns(['artifact_id', 'created_at']).execute();
      await db.schema
        .createTable('promotion_approvals')
        .addColumn('promotion_id', 'text', (c) => c.notNull().references('promotions.promotion_id'))
        .addColumn('approver_kid', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull())
        .addPrimaryKeyConstraint('promotion_approvals_pk', ['promotion_id', 'approver_kid'])
        .execute();
      // the rollout's execution trace, one row per state entered (both modes)
      await db.schema
        .createTable('promotion_steps')
        .addColumn('promotion_id', 'text', (c) => c.notNull().references('promotions.promotion_id'))
        .addColumn('step', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('input', 'text', (c) => c.notNull())
        .addColumn('output', 'text')
        .addColumn('error', 'text')
        .addColumn('entered_at', 'timestamptz', (c) => c.notNull())
        .addColumn('finished_at', 'timestamptz')
        .addPrimaryKeyConstraint('promotion_steps_pk', ['promotion_id', 'step'])
        .execute();
      // where traffic goes: the routing record the canary writes
      await db.schema
        .createTable('routes')
        .addColumn('model_name', 'text', (c) => c.notNull())
        .addColumn('env', 'text', (c) => c.notNull())
        .addColumn('stable_artifact_id', 'text')
        .addColumn('canary_artifact_id', 'text')
        .addColumn('canary_percent', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('promotion_id', 'text')
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .addPrimaryKeyConstraint('routes_pk', ['model_name', 'env'])
        .execute();
    },
  },
  // Every judged canary window with its numbers (issue 10): written with the rollout step that
  // judged it, and shown with the promotion. The audit event of that step carries the same row.
  '0005_canary_verdicts': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('canary_verdicts')
        .addColumn('promotion_id', 'text', (c) => c.notNull().references('promotions.promotion_id'))
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('stage', 'integer', (c) => c.notNull())
        .addColumn('percent', 'integer', (c) => c.notNull())
        .addColumn('window_from', 'timestamptz', (c) => c.notNull())
        .addColumn('window_to', 'timestamptz', (c) => c.notNull())
        .addColumn('verdict', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('next', 'text', (c) => c.notNull())
        .addColumn('stable_requests', 'integer', (c) => c.notNull())
        .addColumn('canary_requests', 'integer', (c) => c.notNull())
        .addColumn('stable_errors', 'integer')
        .addColumn('canary_errors', 'integer')
        .addColumn('detail', 'text', (c) => c.notNull())
        // canonical JSON of the judge's numbers (percentiles, statistics, p-values, guardrails); null from a scripted judge
        .addColumn('judgement', 'text')
        .addColumn('judged_at', 'timestamptz', (c) => c.notNull())
        .addPrimaryKeyConstraint('canary_verdicts_pk', ['promotion_id', 'seq'])
        .execute();
    },
  },
  // Pending-upload expiry (issue 9): an upload is registered (claimed by an artifact) or
  // pending; pending ones past their TTL are expired, their bytes removed, their rows deleted.
  '0006_upload_expiry': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('uploads').addColumn('registered_at', 'timestamptz').execute();
      await db.schema.alterTable('uploads').addColumn('expired_at', 'timestamptz').execute();
      await sql`UPDATE uploads SET registered_at = a.created_at FROM artifacts a WHERE a.storage_key = uploads.storage_key`.execute(db);
      await db.schema.createIndex('uploads_created_at_idx').on('uploads').column('created_at').execute();
    },
  },
  // Rollout leases (issue 9): exactly one runner advances a rollout. The holder, its fencing
  // token (raised at every change of holder) and until when the lease holds; every step's
  // writes are conditional on the token in their own transaction. Each step row names the
  // runner and token it ran under, refused steps included.
  '0007_rollout_leases': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('rollout_leases')
        .addColumn('promotion_id', 'text', (c) => c.primaryKey().references('promotions.promotion_id'))
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('token', 'integer', (c) => c.notNull())
        .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
        // when the holder's next step is due (the end of its Wait): a runner taking over waits until then
        .addColumn('due_at', 'timestamptz')
        .addColumn('acquired_at', 'timestamptz', (c) => c.notNull())
        .execute();
      await db.schema.alterTable('promotion_steps').addColumn('runner', 'text').execute();
      await db.schema.alterTable('promotion_steps').addColumn('lease_token', 'integer').execute();
    },
  },
  ...LATER_MIGRATIONS,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** The names of every migration this code knows, in the order they apply. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(migrations).sort();

/** Brings the schema to the latest version; throws with the failing migration's name. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider, migrationTableName: 'aegis_migrations', migrationLockTableName: 'aegis_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${why}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** The migrations this code knows that the database has not applied, in order (newer ones it has are fine). */
export async function pendingMigrations(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider, migrationTableName: 'aegis_migrations', migrationLockTableName: 'aegis_migrations_lock' });
  return (await migrator.getMigrations()).filter((m) => m.executedAt === undefined).map((m) => m.name);
}
