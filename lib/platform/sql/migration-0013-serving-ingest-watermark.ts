/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run on the untyped schema of their time */
import type { Kysely } from 'kysely';

// The serving ingest's watermark (issue 18): per deployment, the latest serving event time the
// `serving-ingest` function has inserted, so the canary judge ends each window where the
// ingested events are complete (within the grace) instead of at "now". Derived from the events
// (not audited, not restored); one row per deployment, raised only (GREATEST).
export const servingIngestWatermark0013 = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('serving_ingest_watermarks')
      .addColumn('deployment_key', 'text', (c) => c.primaryKey())
      .addColumn('event_at', 'timestamptz', (c) => c.notNull())
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
      .execute();
  },
};
