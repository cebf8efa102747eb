/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run on the untyped schema of their time */
import type { Kysely } from 'kysely';

// Serving (issue 17): where each artifact first verified and served per environment (audited
// as serving.verified, restored from it); one event per served request, the canary judge's
// metrics (not audited: high volume, inserted in batches, idempotent by request id); and the
// label feedback that the next issue's route fills.
export const serving0011 = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('serving_deployments')
      .addColumn('artifact_id', 'text', (c) => c.notNull().references('artifacts.artifact_id'))
      .addColumn('env', 'text', (c) => c.notNull())
      .addColumn('model_name', 'text', (c) => c.notNull())
      .addColumn('manifest_signature_id', 'text', (c) => c.notNull())
      .addColumn('format', 'text', (c) => c.notNull())
      .addColumn('verified_at', 'timestamptz', (c) => c.notNull())
      .addPrimaryKeyConstraint('serving_deployments_pk', ['artifact_id', 'env'])
      .execute();
    await db.schema
      .createTable('serving_events')
      .addColumn('request_id', 'text', (c) => c.primaryKey())
      .addColumn('deployment_key', 'text', (c) => c.notNull())
      .addColumn('variant', 'text', (c) => c.notNull())
      .addColumn('artifact_id', 'text', (c) => c.notNull())
      .addColumn('promotion_id', 'text')
      .addColumn('at', 'timestamptz', (c) => c.notNull())
      .addColumn('latency_ms', 'double precision', (c) => c.notNull())
      // latencyBucket(latency_ms), computed by the writer so every writer buckets alike
      .addColumn('latency_bucket', 'integer', (c) => c.notNull())
      .addColumn('error', 'boolean', (c) => c.notNull())
      .addColumn('cold', 'boolean', (c) => c.notNull())
      // canonical JSON of the predictions (null when the model failed)
      .addColumn('prediction', 'text')
      .execute();
    await db.schema
      .createIndex('serving_events_window_idx')
      .on('serving_events')
      .columns(['deployment_key', 'variant', 'artifact_id', 'at'])
      .execute();
    await db.schema
      .createTable('serving_labels')
      .addColumn('request_id', 'text', (c) => c.primaryKey())
      .addColumn('label', 'text', (c) => c.notNull())
      .addColumn('received_at', 'timestamptz', (c) => c.notNull())
      .execute();
  },
};
