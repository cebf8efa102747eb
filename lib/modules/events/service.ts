/**
 * Event subscriptions: webhooks an admin adds (and the stack's event bus), each wanting some
 * event types; the outbox rows the audit append enqueues for them; their deliveries, dead letters
 * and replays. The dispatcher (`dispatcher.ts`) delivers.
 */
import { randomUUID } from 'node:crypto';
import type { QueryCreator } from 'kysely';
import type { AuditEvent } from '../../kernel/audit-chain.js';
import { AegisError } from '../../kernel/errors.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { AuditStream } from '../../platform/audit/stream.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { DeliveryOutcome, WebhookSender } from '../../platform/ports/event-delivery.js';
import type { DB } from '../../platform/sql/schema.js';
import {
  BUS_SUBSCRIPTION_ID,
  checkSecret,
  filterText,
  newSecret,
  parseFilters,
  type DeliveryStatus,
  type WebhookFormat,
} from './domain.js';
import { deliveryCounts, listDeliveries, requeueDead } from './store-dispatch.js';
import {
  enqueueQuery,
  insertSubscription,
  markDeleted,
  readSubscriptions,
  secretOf,
  setSecret,
  subscriptionRow,
  type StoredDelivery,
  type StoredSubscription,
} from './store.js';

export interface EventServiceDeps {
  database: Database;
  audit: AuditLog;
  clock: Clock;
  webhooks: WebhookSender;
  /** every event type Aegis appends (the catalogue's keys) */
  knownTypes: readonly string[];
  /** the chain read forward (the long poll) */
  stream: AuditStream;
}

/** How often a long poll looks for new events. */
const POLL_MS = 500;

/** One event's delivery to one subscription, and how it went. */
export type Delivery = StoredDelivery;

/** A subscription with how its deliveries stand. */
export interface Subscription extends Omit<StoredSubscription, 'filters'> {
  events: string[];
  pending: number;
  dead: number;
  lastDeliveredAt: Date | null;
}

export interface NewWebhook {
  url: string;
  events: readonly string[];
  secret?: string | undefined;
  format?: WebhookFormat | undefined;
  description?: string | undefined;
}

export class EventService {
  constructor(private readonly d: EventServiceDeps) {}

  /** The audit log's outbox: one append's events for every subscription that wants them, as a part of the append's statement. */
  enqueue(db: QueryCreator<DB>, events: readonly AuditEvent[]) {
    return enqueueQuery(
      db,
      events.map((e) => ({ seq: e.seq, type: e.type, at: new Date(e.ts) })),
    );
  }

  /** Adds a webhook (its URL checked against the address rules first); the secret is answered once, when generated. */
  async createWebhook(actor: string, w: NewWebhook): Promise<{ subscription: Subscription; secret?: string }> {
    const refusal = await this.d.webhooks.refusal(w.url);
    if (refusal) throw new AegisError('VALIDATION_FAILED', `url: ${refusal}`, { field: 'url' });
    const filters = parseFilters(w.events, this.d.knownTypes);
    if (w.secret !== undefined) checkSecret(w.secret);
    const secret = w.secret ?? newSecret();
    const id = `wh_${randomUUID()}`;
    await this.#create(actor, {
      id,
      kind: 'webhook',
      target: w.url,
      format: w.format ?? 'aegis',
      description: w.description,
      secret,
      filters,
    });
    const subscription = await this.get(id);
    return { subscription, ...(w.secret === undefined && { secret }) };
  }

  /**
   * The stack's event bus as a subscription to every event (the AWS migrate step, each deploy):
   * created once, its name updated if the stack's bus was renamed.
   */
  async ensureBus(actor: string, busName: string): Promise<Subscription> {
    const [live] = await readSubscriptions(this.d.database.db, { kind: 'bus' });
    if (live?.target === busName) return this.get(live.subscriptionId);
    if (live) await this.#remove(actor, live);
    // the first bus is `bus`; a renamed one gets a new id (the deleted one keeps its history)
    const [first] = await readSubscriptions(this.d.database.db, { ids: [BUS_SUBSCRIPTION_ID], includeDeleted: true });
    const id = first ? `bus_${randomUUID()}` : BUS_SUBSCRIPTION_ID;
    await this.#create(actor, {
      id,
      kind: 'bus',
      target: busName,
      format: 'aegis',
      description: 'the stack event bus',
      secret: null,
      filters: parseFilters(['*'], this.d.knownTypes),
    });
    return this.get(id);
  }

  async #create(
    actor: string,
    s: {
      id: string;
      kind: 'webhook' | 'bus';
      target: string;
      format: WebhookFormat;
      description: string | undefined;
      secret: string | null;
      filters: ReturnType<typeof parseFilters>;
    },
  ): Promise<void> {
    const createdAt = this.d.clock.now();
    await this.d.database.db.transaction().execute(async (tx) => {
      const row = subscriptionRow({
        subscriptionId: s.id,
        kind: s.kind,
        target: s.target,
        format: s.format,
        description: s.description ?? null,
        secret: s.secret,
        createdBy: actor,
        createdAt,
      });
      // inserted before its event, so it gets it
      await insertSubscription(tx, row, s.filters);
      await this.d.audit.append(tx, {
        type: 'subscription.created',
        actor,
        subject: `subscription:${s.id}`,
        payload: {
          subscriptionId: s.id,
          kind: s.kind,
          target: s.target,
          format: s.format,
          events: s.filters.map(filterText),
          ...(s.description !== undefined && { description: s.description }),
          createdAt: createdAt.toISOString(),
        },
      });
    });
  }

  async list(q: { kind?: 'webhook' | 'bus' } = {}): Promise<Subscription[]> {
    const subs = await readSubscriptions(this.d.database.db, q);
    const counts = await deliveryCounts(
      this.d.database.db,
      subs.map((s) => s.subscriptionId),
    );
    return subs.map(({ filters, ...s }) => ({
      ...s,
      events: filters.map(filterText),
      ...(counts.get(s.subscriptionId) ?? { pending: 0, dead: 0, lastDeliveredAt: null }),
    }));
  }

  /** A live subscription, or NOT_FOUND naming the id. */
  async get(id: string): Promise<Subscription> {
    const [s] = await readSubscriptions(this.d.database.db, { ids: [id] });
    if (!s) throw new AegisError('NOT_FOUND', `no webhook ${id}`, { field: 'id' });
    const counts = (await deliveryCounts(this.d.database.db, [id])).get(id) ?? { pending: 0, dead: 0, lastDeliveredAt: null };
    const { filters, ...rest } = s;
    return { ...rest, events: filters.map(filterText), ...counts };
  }

  /** Deletes a webhook: nothing more is enqueued or delivered for it (its delivery history stays). */
  async removeWebhook(actor: string, id: string): Promise<void> {
    await this.#remove(actor, await this.#webhook(id));
  }

  async #remove(actor: string, s: { subscriptionId: string; target: string }): Promise<void> {
    const id = s.subscriptionId;
    const deletedAt = this.d.clock.now();
    await this.d.database.db.transaction().execute(async (tx) => {
      if (!(await markDeleted(tx, id, deletedAt))) throw new AegisError('NOT_FOUND', `no webhook ${id}`, { field: 'id' });
      await this.d.audit.append(tx, {
        type: 'subscription.deleted',
        actor,
        subject: `subscription:${id}`,
        payload: { subscriptionId: id, target: s.target, deletedAt: deletedAt.toISOString() },
      });
    });
  }

  /** Sets a webhook's HMAC secret (rotation, or after a rebuild); answers it when generated. */
  async setSecret(actor: string, id: string, secret?: string): Promise<{ secret?: string }> {
    const s = await this.#webhook(id);
    if (secret !== undefined) checkSecret(secret);
    const value = secret ?? newSecret();
    await this.d.database.db.transaction().execute(async (tx) => {
      await setSecret(tx, s.subscriptionId, value);
      await this.d.audit.append(tx, {
        type: 'subscription.secret_set',
        actor,
        subject: `subscription:${id}`,
        payload: { subscriptionId: id },
      });
    });
    return secret === undefined ? { secret: value } : {};
  }

  async deliveries(
    id: string,
    q: { status?: DeliveryStatus | undefined; before?: number | undefined; limit: number },
  ): Promise<{ items: StoredDelivery[]; nextCursor: string | null }> {
    await this.get(id);
    const rows = await listDeliveries(this.d.database.db, id, { ...q, limit: q.limit + 1 });
    const items = rows.slice(0, q.limit);
    return { items, nextCursor: rows.length > q.limit ? String(items[items.length - 1]!.seq) : null };
  }

  /** Puts dead deliveries back in the queue (all, or those of `seqs`); the dispatcher sends them in chain order. */
  async replay(id: string, seqs?: readonly number[]): Promise<{ requeued: number }> {
    await this.get(id);
    return { requeued: await requeueDead(this.d.database.db, id, seqs, this.d.clock.now()) };
  }

  /** Sends a test delivery now (not an event of the chain: `X-Aegis-Test: true`) and answers how it went. */
  async testFire(actor: string, id: string): Promise<DeliveryOutcome> {
    const s = await this.#webhook(id);
    const secret = await secretOf(this.d.database.db, id);
    if (secret === null) throw new AegisError('CONFLICT', `webhook ${id} has no secret since the rebuild: set one first`, { field: 'id' });
    const ts = this.d.clock.now().toISOString();
    const event: AuditEvent = {
      seq: 0,
      eventId: `test-${randomUUID()}`,
      type: 'subscription.test',
      actor,
      subject: `subscription:${id}`,
      payload: { subscriptionId: id },
      ts,
      prevHash: '',
      hash: '',
      signature: '',
      signerId: '',
    };
    return this.d.webhooks.send({ url: s.target, secret, format: s.format }, { event, attempt: 1, test: true });
  }

  /**
   * The long poll: events after `after` (absent: after the head, so only new ones) whose type
   * `types` wants (none: all), waiting up to `waitMs` for the first; `cursor` is where the next
   * call goes on from (past events the filter skipped too).
   */
  async tail(q: {
    after?: number | undefined;
    types: readonly string[];
    limit: number;
    waitMs: number;
  }): Promise<{ items: AuditEvent[]; cursor: number }> {
    const filters = parseFilters(q.types, this.d.knownTypes, 'query.type');
    const deadline = Date.now() + q.waitMs;
    let after = q.after ?? (await this.d.stream.head());
    for (;;) {
      const r = await this.d.stream.after({ after, filters, limit: q.limit });
      const left = deadline - Date.now();
      if (r.items.length > 0 || left <= 0) return { items: r.items, cursor: r.through };
      after = r.through;
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left)));
    }
  }

  async #webhook(id: string): Promise<Subscription> {
    const s = await this.get(id);
    if (s.kind !== 'webhook') throw new AegisError('CONFLICT', `${id} is the stack's event bus, not a webhook`, { field: 'id' });
    return s;
  }
}
