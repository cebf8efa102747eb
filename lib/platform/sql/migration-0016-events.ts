/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run on the untyped schema of their time */
import { sql, type Kysely } from 'kysely';

// Events out (issue 24). `event_subscriptions`: webhooks (and, on AWS, the stack's event bus)
// with the event types or prefixes each wants (`event_subscription_filters`); restored from their
// events by rebuild-index, but for the HMAC secret (never chained: a restored webhook waits for a
// new one). `event_deliveries`: the outbox, one row per event and matching subscription, inserted
// by the audit append in the transaction that commits the event; operational state (attempts,
// dead letters), neither chained nor restored. The lease columns let one dispatcher at a time
// deliver a subscription's events, in chain order.
async function subscriptions(db: Kysely<any>) {
  await db.schema
    .createTable('event_subscriptions')
    .addColumn('subscription_id', 'text', (c) => c.primaryKey())
    // webhook | bus
    .addColumn('kind', 'text', (c) => c.notNull())
    // the webhook's URL, or the bus's name
    .addColumn('target', 'text', (c) => c.notNull())
    // aegis | slack (webhooks)
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    // the webhook's HMAC key; null until set again after a rebuild (deliveries wait)
    .addColumn('secret', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('deleted_at', 'timestamptz')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', 'timestamptz')
    .execute();
  await db.schema
    .createTable('event_subscription_filters')
    .addColumn('subscription_id', 'text', (c) => c.notNull().references('event_subscriptions.subscription_id'))
    // an event type, or a prefix ('' matches every type)
    .addColumn('pattern', 'text', (c) => c.notNull())
    .addColumn('prefix', 'boolean', (c) => c.notNull())
    .addPrimaryKeyConstraint('event_subscription_filters_pk', ['subscription_id', 'pattern', 'prefix'])
    .execute();
}

async function deliveries(db: Kysely<any>) {
  await db.schema
    .createTable('event_deliveries')
    .addColumn('subscription_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('event_type', 'text', (c) => c.notNull())
    // pending | delivered | dead
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('finished_at', 'timestamptz')
    .addPrimaryKeyConstraint('event_deliveries_pk', ['subscription_id', 'seq'])
    .execute();
  await sql`CREATE INDEX event_deliveries_pending ON event_deliveries (subscription_id, seq) WHERE status = 'pending'`.execute(db);
  await db.schema.createIndex('event_deliveries_by_status').on('event_deliveries').columns(['subscription_id', 'status', 'seq']).execute();
}

export const events0016 = {
  async up(db: Kysely<any>) {
    await subscriptions(db);
    await deliveries(db);
  },
};
