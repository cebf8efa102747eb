/**
 * Restoring event subscriptions from the chain: a subscription (webhook or bus) with its filters
 * per `subscription.created`, its deletion per `subscription.deleted`. Secrets are never chained:
 * a restored webhook has none, and its deliveries wait until an admin sets one. Deliveries are
 * operational state and are not restored. Pure: the rebuild writes the rows.
 */
import type { Insertable } from 'kysely';
import type { AuditEvent } from '../../kernel/audit-chain.js';
import type { Executor } from '../../platform/ports/database.js';
import { toDate, type EventSubscriptionsTable } from '../../platform/sql/schema.js';
import { handlerFor, inChunks, parsePayload, type RestoreLog } from '../restore.js';
import { filterKey, filterOf, type EventFilter } from './domain.js';
import { SubscriptionCreatedPayload, SubscriptionDeletedPayload } from './events.js';
import { insertSubscriptions, subscriptionRow } from './store.js';

export interface RestoredSubscription {
  row: Insertable<EventSubscriptionsTable>;
  filters: EventFilter[];
}

export interface EventRows {
  eventSubscriptions: RestoredSubscription[];
}

/** The subscriptions replayed from the chain, in chain order. */
export class EventRestore {
  readonly subscriptions = new Map<string, RestoredSubscription>();

  /** Replays one event of a type in {@link RESTORES}; any other is ignored. */
  apply(e: AuditEvent, log: RestoreLog): void {
    handlerFor(HANDLERS, e.type)?.(this, e, log);
  }

  /** Every subscription, deleted ones too (they name no row of another module); warns of the live webhooks, which have no secret. */
  take(log: RestoreLog): EventRows {
    const subs = [...this.subscriptions.values()];
    const waiting = subs.filter((s) => s.row.kind === 'webhook' && !s.row.deleted_at).map((s) => s.row.subscription_id);
    if (waiting.length)
      log.warnings.push(
        `${waiting.length} webhook(s) restored without their secret (never chained): their deliveries wait until an admin sets one (aegis webhooks secret ID, POST /v1/webhooks/ID/secret): ${waiting.join(', ')}`,
      );
    return { eventSubscriptions: subs };
  }
}

const conflict = (e: AuditEvent, log: RestoreLog, detail: string) =>
  log.problems.push({ kind: 'event', id: `seq ${e.seq}`, problem: 'conflict', detail: `${e.type}: ${detail}` });

/**
 * The filters the event's entries write, as the subscription had them. The event types Aegis
 * appends today are not checked (the event may come from an older or newer catalogue); an entry
 * that is no type nor prefix is left out and reported.
 */
function filtersOf(e: AuditEvent, id: string, events: readonly string[], log: RestoreLog): EventFilter[] {
  const out = new Map<string, EventFilter>();
  events.forEach((w, i) => {
    const f = filterOf(w);
    if (f) out.set(filterKey(f), f);
    else
      log.problems.push({
        kind: 'event',
        id: `seq ${e.seq}`,
        problem: 'payload-invalid',
        detail: `${e.type}: events[${i}] ${JSON.stringify(w)} is not an event type nor a prefix: left out of subscription ${id}'s filters`,
      });
  });
  return [...out.values()];
}

const HANDLERS: Readonly<Record<string, (r: EventRestore, e: AuditEvent, log: RestoreLog) => void>> = {
  'subscription.created': (r, e, log) => {
    const p = parsePayload(SubscriptionCreatedPayload, e, 'event', log);
    if (!p) return;
    if (r.subscriptions.has(p.subscriptionId)) return conflict(e, log, `subscription ${p.subscriptionId} created twice`);
    const row = subscriptionRow({
      subscriptionId: p.subscriptionId,
      kind: p.kind,
      target: p.target,
      format: p.format,
      description: p.description ?? null,
      secret: null,
      createdBy: e.actor,
      createdAt: toDate(p.createdAt),
    });
    r.subscriptions.set(p.subscriptionId, { row, filters: filtersOf(e, p.subscriptionId, p.events, log) });
  },
  'subscription.deleted': (r, e, log) => {
    const p = parsePayload(SubscriptionDeletedPayload, e, 'event', log);
    if (!p) return;
    const s = r.subscriptions.get(p.subscriptionId);
    if (!s) return conflict(e, log, `no subscription ${p.subscriptionId} created before it`);
    if (s.row.deleted_at) return conflict(e, log, `subscription ${p.subscriptionId} deleted twice`);
    if (s.row.target !== p.target)
      log.warnings.push(
        `${e.type} at seq ${e.seq} names target ${p.target}, subscription ${p.subscriptionId} was created for ${s.row.target}: deleted`,
      );
    s.row.deleted_at = toDate(p.deletedAt);
  },
};

/** The event types the events restore reads. */
export const RESTORES: readonly string[] = Object.keys(HANDLERS);

/** Writes the rows in the caller's transaction. */
export async function writeEvents(x: Executor, rows: EventRows): Promise<void> {
  await inChunks(rows.eventSubscriptions, (part) => insertSubscriptions(x, part));
}
