/** The events module's dispatch queries: leases on subscriptions, the pending outbox rows, delivery state. */
import { sql } from 'kysely';
import type { Executor } from '../../platform/ports/database.js';
import type { DeliveryStatus } from './domain.js';
import { deliveryFromRow, type StoredDelivery } from './store.js';

/**
 * The live subscriptions with a delivery due by `now` whose lease is free (or ours), and that can
 * deliver: the bus, or a webhook with a secret.
 */
export async function dueSubscriptions(x: Executor, now: Date, owner: string): Promise<string[]> {
  const rows = await x
    .selectFrom('event_subscriptions as s')
    .select('s.subscription_id')
    .where('s.deleted_at', 'is', null)
    .where((eb) => eb.or([eb('s.kind', '=', 'bus'), eb('s.secret', 'is not', null)]))
    .where((eb) => eb.or([eb('s.lease_until', 'is', null), eb('s.lease_until', '<', now), eb('s.lease_owner', '=', owner)]))
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('event_deliveries as d')
          .select(sql`1`.as('one'))
          .whereRef('d.subscription_id', '=', 's.subscription_id')
          .where('d.status', '=', 'pending')
          .where('d.next_attempt_at', '<=', now),
      ),
    )
    .orderBy('s.subscription_id')
    .execute();
  return rows.map((r) => r.subscription_id);
}

/** Takes (or extends) the subscription's dispatch lease; the secret comes with it (null for the bus). */
export async function claimLease(
  x: Executor,
  id: string,
  owner: string,
  now: Date,
  until: Date,
): Promise<{ secret: string | null } | undefined> {
  return x
    .updateTable('event_subscriptions')
    .set({ lease_owner: owner, lease_until: until })
    .where('subscription_id', '=', id)
    .where('deleted_at', 'is', null)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now), eb('lease_owner', '=', owner)]))
    .returning('secret')
    .executeTakeFirst();
}

export async function releaseLease(x: Executor, id: string, owner: string): Promise<void> {
  await x
    .updateTable('event_subscriptions')
    .set({ lease_owner: null, lease_until: null })
    .where('subscription_id', '=', id)
    .where('lease_owner', '=', owner)
    .execute();
}

/** The subscription's pending deliveries in chain order (due or not: a waiting one holds the later ones back). */
export async function pendingDeliveries(x: Executor, id: string, limit: number): Promise<StoredDelivery[]> {
  const rows = await x
    .selectFrom('event_deliveries')
    .selectAll()
    .where('subscription_id', '=', id)
    .where('status', '=', 'pending')
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map(deliveryFromRow);
}

/** Records one attempt: delivered, failed (pending again at `nextAttemptAt`) or dead. Only a pending row moves. */
export async function recordAttempt(
  x: Executor,
  d: { subscriptionId: string; seq: number },
  r: { status: DeliveryStatus; attempts: number; at: Date; nextAttemptAt?: Date; lastStatus?: number; lastError?: string },
): Promise<void> {
  await x
    .updateTable('event_deliveries')
    .set({
      status: r.status,
      attempts: r.attempts,
      last_status: r.lastStatus ?? null,
      last_error: r.lastError ?? null,
      ...(r.nextAttemptAt && { next_attempt_at: r.nextAttemptAt }),
      ...(r.status !== 'pending' && { finished_at: r.at }),
    })
    .where('subscription_id', '=', d.subscriptionId)
    .where('seq', '=', d.seq)
    .where('status', '=', 'pending')
    .execute();
}

/** Records deliveries the receiver accepted (with its status), one more attempt each. Only pending rows move. */
export async function recordDelivered(x: Executor, id: string, seqs: readonly number[], status: number | null, at: Date): Promise<void> {
  if (seqs.length === 0) return;
  await x
    .updateTable('event_deliveries')
    .set((eb) => ({ status: 'delivered', attempts: eb('attempts', '+', 1), last_status: status, last_error: null, finished_at: at }))
    .where('subscription_id', '=', id)
    .where('seq', 'in', [...seqs])
    .where('status', '=', 'pending')
    .execute();
}

/** A subscription's deliveries, newest first, by status, paginated by seq. */
export async function listDeliveries(
  x: Executor,
  id: string,
  q: { status?: DeliveryStatus | undefined; before?: number | undefined; limit: number },
): Promise<StoredDelivery[]> {
  let query = x.selectFrom('event_deliveries').selectAll().where('subscription_id', '=', id).orderBy('seq', 'desc').limit(q.limit);
  if (q.status) query = query.where('status', '=', q.status);
  if (q.before !== undefined) query = query.where('seq', '<', q.before);
  return (await query.execute()).map(deliveryFromRow);
}

/** Puts dead deliveries (all, or those of `seqs`) back in the queue, due now, attempts from zero. */
export async function requeueDead(x: Executor, id: string, seqs: readonly number[] | undefined, now: Date): Promise<number> {
  let q = x
    .updateTable('event_deliveries')
    .set({ status: 'pending', attempts: 0, next_attempt_at: now, finished_at: null })
    .where('subscription_id', '=', id)
    .where('status', '=', 'dead');
  if (seqs) q = seqs.length ? q.where('seq', 'in', [...seqs]) : q.where(sql<boolean>`false`);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** How many deliveries of each subscription are pending and dead, and its newest delivered one. */
export async function deliveryCounts(
  x: Executor,
  ids: readonly string[],
): Promise<Map<string, { pending: number; dead: number; lastDeliveredAt: Date | null }>> {
  const out = new Map<string, { pending: number; dead: number; lastDeliveredAt: Date | null }>();
  if (ids.length === 0) return out;
  const rows = await x
    .selectFrom('event_deliveries')
    .select((eb) => [
      'subscription_id',
      eb.fn.count<string>('seq').filterWhere('status', '=', 'pending').as('pending'),
      eb.fn.count<string>('seq').filterWhere('status', '=', 'dead').as('dead'),
      eb.fn.max('finished_at').filterWhere('status', '=', 'delivered').as('last'),
    ])
    .where('subscription_id', 'in', [...ids])
    .groupBy('subscription_id')
    .execute();
  for (const r of rows)
    out.set(r.subscription_id, {
      pending: Number(r.pending),
      dead: Number(r.dead),
      lastDeliveredAt: r.last === null ? null : new Date(r.last as Date | string),
    });
  return out;
}
