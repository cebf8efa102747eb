/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run on the untyped schema of their time */
import { sql, type Kysely } from 'kysely';

// The drift pipeline (issue 21). `drift_runs`: operational state of each run (scheduled or
// requested), not chained and not restored: a scheduled window is run once (the partial unique
// index), a failed run stays failed with its error. `drift_reports`: the index of the reports
// stored in the drift store (the report itself is canonical JSON whose sha256 the drift.report
// event chains). `drift_suggestions`: signed retrain suggestions, at most one per deployment and
// serving artifact; later drifted reports of that artifact attach to it (drift_reports.suggestion_id).
// Reports and suggestions are restored from their events by rebuild-index.
async function runs(db: Kysely<any>) {
  await db.schema
    .createTable('drift_runs')
    .addColumn('run_id', 'text', (c) => c.primaryKey())
    .addColumn('model_name', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    // the serving artifact whose baseline the window is binned with (null until planned)
    .addColumn('artifact_id', 'text')
    .addColumn('window_from', 'timestamptz', (c) => c.notNull())
    .addColumn('window_to', 'timestamptz', (c) => c.notNull())
    // `schedule` (the drift-schedule job) or `request` (POST /v1/drift/runs)
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    // running | succeeded | skipped (no route or no baseline) | failed
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('shards', 'integer')
    .addColumn('report_id', 'text')
    .addColumn('error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await sql`CREATE UNIQUE INDEX drift_runs_scheduled_window ON drift_runs (model_name, env, window_to) WHERE trigger = 'schedule'`.execute(
    db,
  );
  await db.schema.createIndex('drift_runs_by_deployment').on('drift_runs').columns(['model_name', 'env', 'created_at']).execute();
}

async function suggestions(db: Kysely<any>) {
  await db.schema
    .createTable('drift_suggestions')
    .addColumn('suggestion_id', 'text', (c) => c.primaryKey())
    .addColumn('model_name', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('serving_artifact_id', 'text', (c) => c.notNull())
    // the report that raised it
    .addColumn('report_id', 'text', (c) => c.notNull())
    .addColumn('reasons', 'text', (c) => c.notNull())
    // open | accepted | dismissed | resolved
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('status_reason', 'text')
    .addColumn('status_by', 'text')
    .addColumn('status_at', 'timestamptz')
    .addColumn('resolved_by_artifact_id', 'text')
    .addColumn('resolved_by_promotion_id', 'text')
    // the signature over the suggestion's canonical statement (manifest key), as audited
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addUniqueConstraint('drift_suggestions_one_per_artifact', ['model_name', 'env', 'serving_artifact_id'])
    .execute();
}

async function reports(db: Kysely<any>) {
  await db.schema
    .createTable('drift_reports')
    .addColumn('report_id', 'text', (c) => c.primaryKey())
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('model_name', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('artifact_id', 'text', (c) => c.notNull())
    .addColumn('window_from', 'timestamptz', (c) => c.notNull())
    .addColumn('window_to', 'timestamptz', (c) => c.notNull())
    // drift | no-drift | insufficient-data
    .addColumn('verdict', 'text', (c) => c.notNull())
    // the drift store key of the canonical JSON report, and its sha256
    .addColumn('object_key', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    // counts and the decided features (what lists show without reading the object)
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('suggestion_id', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('drift_reports_by_deployment').on('drift_reports').columns(['model_name', 'env', 'window_to']).execute();
  // one report per run: a retried Report task finds the report its first attempt committed
  await db.schema.createIndex('drift_reports_one_per_run').on('drift_reports').column('run_id').unique().execute();
  await db.schema.createIndex('drift_reports_by_suggestion').on('drift_reports').column('suggestion_id').execute();
}

export const drift0015 = {
  async up(db: Kysely<any>) {
    await runs(db);
    await suggestions(db);
    await reports(db);
  },
};
