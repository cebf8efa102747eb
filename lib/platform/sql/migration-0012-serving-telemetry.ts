/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run on the untyped schema of their time */
import type { Kysely } from 'kysely';

// Serving telemetry (issue 17): label feedback keyed by deployment and request id, so a caller
// scoped to one model can neither label nor block another model's requests (0011's table was
// keyed by request id alone and nothing wrote it yet, so it is recreated); and the indexes the
// retention job deletes by (serving events by time, labels by arrival).
export const servingTelemetry0012 = {
  async up(db: Kysely<any>) {
    await db.schema.dropTable('serving_labels').execute();
    await db.schema
      .createTable('serving_labels')
      .addColumn('deployment_key', 'text', (c) => c.notNull())
      .addColumn('request_id', 'text', (c) => c.notNull())
      .addColumn('label', 'text', (c) => c.notNull())
      .addColumn('received_at', 'timestamptz', (c) => c.notNull())
      .addPrimaryKeyConstraint('serving_labels_pk', ['deployment_key', 'request_id'])
      .execute();
    await db.schema.createIndex('serving_labels_received_idx').on('serving_labels').column('received_at').execute();
    await db.schema.createIndex('serving_events_at_idx').on('serving_events').column('at').execute();
  },
};
