/**
 * The events module's tables: `event_subscriptions`, `event_subscription_filters` and the outbox
 * `event_deliveries`. The only code that builds SQL on them.
 */
import { sql, type Insertable, type QueryCreator, type Selectable } from 'kysely';
import type { Executor } from '../../platform/ports/database.js';
import { toDate, toDateOrNull, type DB, type EventDeliveriesTable, type EventSubscriptionsTable } from '../../platform/sql/schema.js';
import type { DeliveryStatus, EventFilter, SubscriptionKind, WebhookFormat } from './domain.js';

/** A subscription as the service reads it; `secret` only where a delivery needs it. */
export interface StoredSubscription {
  subscriptionId: string;
  kind: SubscriptionKind;
  target: string;
  format: WebhookFormat;
  description: string | null;
  filters: EventFilter[];
  hasSecret: boolean;
  createdBy: string;
  createdAt: Date;
  deletedAt: Date | null;
}

export interface StoredDelivery {
  subscriptionId: string;
  seq: number;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  finishedAt: Date | null;
}

type SubscriptionRow = Selectable<EventSubscriptionsTable>;

function fromRow(r: SubscriptionRow, filters: EventFilter[]): StoredSubscription {
  return {
    subscriptionId: r.subscription_id,
    kind: r.kind as SubscriptionKind,
    target: r.target,
    format: r.format as WebhookFormat,
    description: r.description,
    filters,
    hasSecret: r.secret !== null,
    createdBy: r.created_by,
    createdAt: toDate(r.created_at),
    deletedAt: toDateOrNull(r.deleted_at),
  };
}

const deliveryFromRow = (r: Selectable<EventDeliveriesTable>): StoredDelivery => ({
  subscriptionId: r.subscription_id,
  seq: Number(r.seq),
  eventType: r.event_type,
  status: r.status as DeliveryStatus,
  attempts: r.attempts,
  nextAttemptAt: toDate(r.next_attempt_at),
  lastStatus: r.last_status,
  lastError: r.last_error,
  createdAt: toDate(r.created_at),
  finishedAt: toDateOrNull(r.finished_at),
});

/** A new subscription's row (the service's create and the restore write the same). */
export function subscriptionRow(s: {
  subscriptionId: string;
  kind: SubscriptionKind;
  target: string;
  format: WebhookFormat;
  description: string | null;
  secret: string | null;
  createdBy: string;
  createdAt: Date;
}): Insertable<EventSubscriptionsTable> {
  return {
    subscription_id: s.subscriptionId,
    kind: s.kind,
    target: s.target,
    format: s.format,
    description: s.description,
    secret: s.secret,
    created_by: s.createdBy,
    created_at: s.createdAt,
  };
}

export async function insertSubscription(x: Executor, row: Insertable<EventSubscriptionsTable>, filters: EventFilter[]): Promise<void> {
  await insertSubscriptions(x, [{ row, filters }]);
}

/** Subscriptions with their filters in two statements (the restore writes at most 200 at a time: 50 filters each stay far below the bind limit). */
export async function insertSubscriptions(
  x: Executor,
  subs: readonly { row: Insertable<EventSubscriptionsTable>; filters: readonly EventFilter[] }[],
): Promise<void> {
  if (subs.length === 0) return;
  await x
    .insertInto('event_subscriptions')
    .values(subs.map((s) => s.row))
    .execute();
  const filters = subs.flatMap((s) =>
    s.filters.map((f) => ({ subscription_id: s.row.subscription_id, pattern: f.pattern, prefix: f.prefix })),
  );
  if (filters.length) await x.insertInto('event_subscription_filters').values(filters).execute();
}

async function filtersOf(x: Executor, ids: readonly string[]): Promise<Map<string, EventFilter[]>> {
  const out = new Map<string, EventFilter[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return out;
  const rows = await x
    .selectFrom('event_subscription_filters')
    .selectAll()
    .where('subscription_id', 'in', [...ids])
    .orderBy('subscription_id')
    .orderBy('prefix')
    .orderBy('pattern')
    .execute();
  for (const r of rows) out.get(r.subscription_id)?.push({ pattern: r.pattern, prefix: r.prefix });
  return out;
}

/** Subscriptions by id, or every one (deleted ones only when asked), oldest first. */
export async function readSubscriptions(
  x: Executor,
  q: { ids?: readonly string[]; includeDeleted?: boolean; kind?: SubscriptionKind },
): Promise<StoredSubscription[]> {
  let query = x.selectFrom('event_subscriptions').selectAll().orderBy('created_at').orderBy('subscription_id');
  if (q.ids) query = q.ids.length ? query.where('subscription_id', 'in', [...q.ids]) : query.where(sql<boolean>`false`);
  if (!q.includeDeleted) query = query.where('deleted_at', 'is', null);
  if (q.kind) query = query.where('kind', '=', q.kind);
  const rows = await query.execute();
  const filters = await filtersOf(
    x,
    rows.map((r) => r.subscription_id),
  );
  return rows.map((r) => fromRow(r, filters.get(r.subscription_id) ?? []));
}

/** The HMAC secret of a live webhook (null: none set since a rebuild). */
export async function secretOf(x: Executor, id: string): Promise<string | null> {
  const row = await x.selectFrom('event_subscriptions').select('secret').where('subscription_id', '=', id).executeTakeFirst();
  return row?.secret ?? null;
}

export async function setSecret(x: Executor, id: string, secret: string): Promise<void> {
  await x.updateTable('event_subscriptions').set({ secret }).where('subscription_id', '=', id).execute();
}

export async function markDeleted(x: Executor, id: string, at: Date): Promise<boolean> {
  const r = await x
    .updateTable('event_subscriptions')
    .set({ deleted_at: at, secret: null })
    .where('subscription_id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/**
 * The outbox: one pending delivery of each event for every live subscription whose filters
 * want its type, as a part of the statement appending the events (one row returned per delivery).
 */
export function enqueueQuery(db: QueryCreator<DB>, events: readonly { seq: number; type: string; at: Date }[]) {
  const appended = sql.join(events.map((e) => sql`(${e.seq}::bigint, ${e.type}::text, ${e.at}::timestamptz)`));
  return db
    .insertInto('event_deliveries')
    .columns(['subscription_id', 'seq', 'event_type', 'status', 'attempts', 'next_attempt_at', 'created_at'])
    .expression((eb) =>
      eb
        .selectFrom([
          'event_subscriptions as s',
          // VALUES names its columns column1, column2, column3: seq, type, time
          sql<{ column1: number; column2: string; column3: Date }>`(values ${appended})`.as('e'),
        ])
        .select([
          's.subscription_id',
          'e.column1 as seq',
          'e.column2 as event_type',
          sql<string>`'pending'`.as('status'),
          sql<number>`0`.as('attempts'),
          'e.column3 as next_attempt_at',
          'e.column3 as created_at',
        ])
        .where('s.deleted_at', 'is', null)
        .where(({ exists, selectFrom }) =>
          exists(
            selectFrom('event_subscription_filters as f')
              .select(sql`1`.as('one'))
              .whereRef('f.subscription_id', '=', 's.subscription_id')
              .where(sql<boolean>`(f.prefix and starts_with(e.column2, f.pattern)) or (not f.prefix and f.pattern = e.column2)`),
          ),
        ),
    )
    .returning(sql<number>`1`.as('one'));
}

export { deliveryFromRow };
