/** Events out: the subscriptions service, the outbox hook the audit log calls, the dispatcher and what wakes it. */
import type { Transaction } from 'kysely';
import { EVENT_CATALOGUE } from '../../modules/catalogue.js';
import { EventDispatcher } from '../../modules/events/dispatcher.js';
import { EventService } from '../../modules/events/service.js';
import { HttpWebhookSender } from '../adapters/event-delivery/webhook.js';
import type { AuditLog, AuditOutbox } from '../audit/log.js';
import { AuditStream } from '../audit/stream.js';
import type { Config } from '../config.js';
import type { Clock } from '../ports/clock.js';
import type { Database } from '../ports/database.js';
import type { EventBusPublisher } from '../ports/event-delivery.js';
import type { ServiceMetrics } from '../ports/metrics.js';
import type { DB } from '../sql/schema.js';
import type { Container } from './container.js';
import { killAt } from './fault-point.js';

/** What a process adds to deliver events: the bus and a way to wake a dispatcher elsewhere (Lambda). */
export interface EventAdapters {
  /** the stack's event bus (`AEGIS_EVENT_BUS_NAME`, Lambda); absent: none */
  eventBus?(config: Config): EventBusPublisher | undefined;
  /**
   * wakes the dispatcher after a commit enqueued deliveries (Lambda: an asynchronous invocation of
   * `AEGIS_EVENT_DISPATCH_FUNCTION`); absent: the dispatcher of this process runs
   */
  eventKick?(config: Config): (() => Promise<void>) | undefined;
}

/**
 * The late-bound outbox: the audit log is built before the events service (which audits its own
 * changes through it), so the hook and the commit callback reach the service once it exists.
 */
export class Outbox implements AuditOutbox {
  #events: EventService | undefined;
  #kick: (() => Promise<void>) | undefined;
  #logger: Container['logger'] | undefined;

  /** transactions that enqueued deliveries, so their commit wakes the dispatcher */
  readonly #enqueued = new WeakSet<Transaction<DB>>();

  readonly enqueue: AuditOutbox['enqueue'] = (db, events) => {
    if (!this.#events) throw new Error('the events outbox is not wired');
    return this.#events.enqueue(db, events);
  };

  readonly enqueued: AuditOutbox['enqueued'] = (tx, count) => {
    if (count > 0) this.#enqueued.add(tx);
  };

  /** After a commit: wakes the dispatcher when the transaction enqueued deliveries (a failure to wake it only delays them). */
  readonly committed = async (tx: Transaction<DB>): Promise<void> => {
    if (!this.#enqueued.delete(tx) || !this.#kick) return;
    try {
      await this.#kick();
    } catch (e) {
      this.#logger?.warn('could not wake the event dispatcher (the schedule delivers)', { error: (e as Error).message });
    }
  };

  wire(events: EventService, kick: () => Promise<void>, logger: Container['logger']): void {
    this.#events = events;
    this.#kick = kick;
    this.#logger = logger;
  }
}

export function eventServices(
  config: Config,
  adapters: EventAdapters,
  mode: Container['mode'],
  d: { database: Database; audit: AuditLog; clock: Clock; logger: Container['logger']; outbox: Outbox; metrics: ServiceMetrics },
): { events: EventService; eventDispatcher: EventDispatcher } {
  const c = config.events;
  const stream = new AuditStream(d.database);
  const webhooks = new HttpWebhookSender({ rules: { allowHttp: c.allowHttp, allowedCidrs: c.allowedCidrs }, timeoutMs: c.timeoutMs });
  const events = new EventService({
    database: d.database,
    audit: d.audit,
    clock: d.clock,
    webhooks,
    stream,
    knownTypes: Object.keys(EVENT_CATALOGUE),
  });
  const bus = adapters.eventBus?.(config);
  const eventDispatcher = new EventDispatcher(
    { database: d.database, clock: d.clock, webhooks, metrics: d.metrics, ...(bus && { bus }), eventsBySeq: (seqs) => stream.bySeq(seqs) },
    {
      maxAttempts: c.maxAttempts,
      retryBaseMs: c.retryBaseMs,
      // Lambda: the dispatcher function's timeout (60 s) less a margin for the last delivery (its own timeout)
      budgetMs: mode === 'lambda' ? 40_000 : 20_000,
      // one send (the webhook timeout), twice, and the database round trips around it
      leaseMs: 2 * c.timeoutMs + 2000,
      ...(config.testKillAt && { faultPoint: killAt(config.testKillAt) }),
    },
  );
  const kick = adapters.eventKick?.(config) ?? (async () => eventDispatcher.kick());
  d.outbox.wire(events, kick, d.logger);
  return { events, eventDispatcher };
}
