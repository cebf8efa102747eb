/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run on the untyped schema of their time */
import type { Kysely } from 'kysely';

// Quarantine (issue 15): requests to quarantine or release an artifact, applied at once or
// after a multisig quorum (the same approval rules as promotions), each applied one signed
// with the manifest key; what enforcing a quarantine did (cancels, rollbacks, drains).
export const quarantine0010 = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('quarantine_requests')
      .addColumn('request_id', 'text', (c) => c.primaryKey())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('artifact_id', 'text', (c) => c.notNull().references('artifacts.artifact_id'))
      .addColumn('model_name', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('requested_by', 'text', (c) => c.notNull())
      .addColumn('policy_decision', 'text', (c) => c.notNull())
      .addColumn('threshold', 'integer')
      // the artifact while the request waits for approvals: one pending request per artifact
      .addColumn('pending_key', 'text', (c) => c.unique())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .addColumn('applied_at', 'timestamptz')
      .addColumn('record_signature', 'text')
      .addColumn('effects', 'text')
      .execute();
    await db.schema.createIndex('quarantine_requests_artifact_idx').on('quarantine_requests').column('artifact_id').execute();
    await db.schema
      .createTable('quarantine_approvals')
      .addColumn('request_id', 'text', (c) => c.notNull().references('quarantine_requests.request_id'))
      .addColumn('approver_kid', 'text', (c) => c.notNull())
      .addColumn('signature', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .addPrimaryKeyConstraint('quarantine_approvals_pk', ['request_id', 'approver_kid'])
      .execute();
  },
};
