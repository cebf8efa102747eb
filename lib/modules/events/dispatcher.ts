/**
 * The dispatcher: delivers the outbox (`event_deliveries`) to each subscription in chain order,
 * at least once. One dispatcher at a time per subscription (a lease on its row), so several
 * processes may run it; a failed delivery holds the subscription's later events back until it
 * succeeds or, after `maxAttempts`, goes to the dead letters (then the next one goes).
 */
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '../../kernel/audit-chain.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { DeliveryOutcome, EventBusPublisher, WebhookSender } from '../../platform/ports/event-delivery.js';
import type { ServiceMetrics } from '../../platform/ports/metrics.js';
import { retryDelayMs, type WebhookFormat } from './domain.js';
import {
  claimLease,
  dueSubscriptions,
  pendingDeliveries,
  recordAttempt,
  purgeDelivered,
  recordDelivered,
  releaseLease,
} from './store-dispatch.js';
import { readSubscriptions, type StoredDelivery, type StoredSubscription } from './store.js';

export interface DispatcherOptions {
  maxAttempts: number;
  retryBaseMs: number;
  /** how long one run may go on (the Lambda's timeout less a margin); default 20 s */
  budgetMs?: number;
  /**
   * how long a subscription's lease lasts, renewed before each send: longer than one send can
   * take (the webhook timeout), short enough that a dispatcher killed mid-run holds nothing for long
   */
  leaseMs: number;
  /** deliveries per subscription per batch */
  batch?: number;
  /** test-only fault points (AEGIS_TEST_KILL_AT): `events.before-send`, `events.after-send` */
  faultPoint?: (point: string) => void;
  random?: () => number;
  /** delivered deliveries are deleted this long after (dead and pending ones stay); default 7 days */
  retentionDays?: number;
}

export interface DispatchDeps {
  database: Database;
  clock: Clock;
  webhooks: WebhookSender;
  /** the stack's event bus (AWS); absent: a bus subscription waits */
  bus?: EventBusPublisher;
  /** delivery outcomes (`ai_infra_event_deliveries_total`) */
  metrics?: Pick<ServiceMetrics, 'eventDeliveries'>;
  /** the chain's events by seq (the audit trail) */
  eventsBySeq(seqs: readonly number[]): Promise<AuditEvent[]>;
}

/** What one run did, per outcome. */
export interface DispatchResult {
  delivered: number;
  failed: number;
  dead: number;
  subscriptions: number;
}

/** A delivery after a failed one in the same batch: left as it was. */
const NOT_ATTEMPTED: DeliveryOutcome = { ok: false, retryable: true, ms: 0, error: 'not attempted' };

const EMPTY = (): DispatchResult => ({ delivered: 0, failed: 0, dead: 0, subscriptions: 0 });

export class EventDispatcher {
  readonly #owner = randomUUID();
  /** until when this dispatcher holds each subscription's lease (its clock's ms) */
  readonly #held = new Map<string, number>();
  #running: Promise<DispatchResult> | undefined;
  #again = false;
  #purgedAt = 0;

  constructor(
    private readonly deps: DispatchDeps,
    private readonly opts: DispatcherOptions,
  ) {}

  /** Runs now, or once more after the run in flight (a commit enqueued deliveries while it ran). */
  kick(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.run().catch(() => undefined);
  }

  /** One run over every subscription with a delivery due; joins a run already in flight in this process. */
  run(): Promise<DispatchResult> {
    this.#running ??= this.#runUntilQuiet().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #runUntilQuiet(): Promise<DispatchResult> {
    const total = EMPTY();
    const deadline = Date.now() + (this.opts.budgetMs ?? 20_000);
    do {
      this.#again = false;
      const r = await this.#once(deadline);
      for (const k of Object.keys(total) as (keyof DispatchResult)[]) total[k] += r[k];
    } while (this.#again && Date.now() < deadline);
    await this.#purge();
    return total;
  }

  /** At most hourly: the delivered deliveries past their retention. */
  async #purge(): Promise<void> {
    const now = this.deps.clock.now().getTime();
    if (now - this.#purgedAt < 3_600_000) return;
    this.#purgedAt = now;
    await purgeDelivered(this.deps.database.db, new Date(now - (this.opts.retentionDays ?? 7) * 86_400_000));
  }

  async #once(deadline: number): Promise<DispatchResult> {
    const { database, clock } = this.deps;
    const ids = await dueSubscriptions(database.db, clock.now(), this.#owner);
    if (ids.length === 0) return EMPTY();
    const subs = await readSubscriptions(database.db, { ids });
    const results = await Promise.all(subs.map((s) => this.#subscription(s, deadline)));
    const out = EMPTY();
    for (const r of results) for (const k of Object.keys(out) as (keyof DispatchResult)[]) out[k] += r[k];
    return out;
  }

  /** Delivers one subscription's due events in order under its lease, until one must wait or none is left. */
  async #subscription(sub: StoredSubscription, deadline: number): Promise<DispatchResult> {
    const { database } = this.deps;
    const result = { ...EMPTY(), subscriptions: 1 };
    const lease = await this.#claim(sub.subscriptionId);
    if (!lease) return { ...result, subscriptions: 0 };
    try {
      while (Date.now() < deadline) {
        const batch = await pendingDeliveries(database.db, sub.subscriptionId, this.opts.batch ?? 20);
        if (batch.length === 0) break;
        const go = await this.#batch(sub, lease.secret, batch, result);
        if (!go) break;
      }
    } finally {
      for (const outcome of ['delivered', 'failed', 'dead'] as const)
        this.deps.metrics?.eventDeliveries(sub.kind, outcome, result[outcome]);
      this.#held.delete(sub.subscriptionId);
      await releaseLease(database.db, sub.subscriptionId, this.#owner).catch(() => undefined);
    }
    return result;
  }

  /** Takes (or extends) the subscription's lease; undefined: another dispatcher holds it. */
  async #claim(id: string): Promise<{ secret: string | null } | undefined> {
    const now = this.deps.clock.now();
    const until = now.getTime() + this.opts.leaseMs;
    const lease = await claimLease(this.deps.database.db, id, this.#owner, now, new Date(until));
    if (lease) this.#held.set(id, until);
    else this.#held.delete(id);
    return lease;
  }

  /** Before a send: the lease must outlast it; extended once less than half of it is left. False: lost. */
  async #renew(id: string): Promise<boolean> {
    const until = this.#held.get(id);
    if (until !== undefined && until - this.deps.clock.now().getTime() > this.opts.leaseMs / 2) return true;
    return (await this.#claim(id)) !== undefined;
  }

  /** Sends a batch in order; false when the subscription must wait (a failed delivery will be retried). */
  async #batch(sub: StoredSubscription, secret: string | null, batch: StoredDelivery[], result: DispatchResult): Promise<boolean> {
    const now = this.deps.clock.now();
    // a delivery waiting for its retry holds the later ones back: chain order per subscription
    const waiting = batch.findIndex((d) => d.nextAttemptAt > now);
    const due = waiting === -1 ? batch : batch.slice(0, waiting);
    if (due.length === 0) return false;
    const events = new Map((await this.deps.eventsBySeq(due.map((d) => d.seq))).map((e) => [e.seq, e]));
    const outcomes = await this.#send(sub, secret, due, events);
    // the delivered ones are recorded together (killed before that, they are sent again: at least once)
    const sent = due.map((d, i) => ({ d, o: outcomes[i]! })).filter((x) => x.o !== NOT_ATTEMPTED);
    await this.#recordDelivered(
      sub.subscriptionId,
      sent.filter((x) => x.o.ok),
    );
    result.delivered += sent.filter((x) => x.o.ok).length;
    const failed = sent.find((x) => !x.o.ok);
    if (!failed) return sent.length === batch.length;
    const status = await this.#record(failed.d, failed.o);
    result[status === 'dead' ? 'dead' : 'failed']++;
    // after a dead letter the next one goes; a failure to retry holds the rest back
    return status === 'dead';
  }

  async #send(
    sub: StoredSubscription,
    secret: string | null,
    due: StoredDelivery[],
    events: Map<number, AuditEvent>,
  ): Promise<DeliveryOutcome[]> {
    const missing = (d: StoredDelivery): DeliveryOutcome => ({
      ok: false,
      retryable: false,
      ms: 0,
      error: `event ${d.seq} is not in the database`,
    });
    if (sub.kind === 'bus') {
      if (!this.deps.bus)
        return due.map(() => ({ ok: false, retryable: true, ms: 0, error: 'no event bus is configured in this process' }));
      const found = due.filter((d) => events.has(d.seq));
      if (!(await this.#renew(sub.subscriptionId))) return due.map(() => NOT_ATTEMPTED);
      this.opts.faultPoint?.('events.before-send');
      const published = await this.deps.bus.publish(found.map((d) => events.get(d.seq)!));
      this.opts.faultPoint?.('events.after-send');
      return due.map((d) => (events.has(d.seq) ? published[found.indexOf(d)]! : missing(d)));
    }
    const out: DeliveryOutcome[] = [];
    for (const d of due) {
      const event = events.get(d.seq);
      if (!event || secret === null) {
        out.push(
          event ? { ok: false, retryable: true, ms: 0, error: 'the webhook has no secret (set one: aegis webhooks secret)' } : missing(d),
        );
        break;
      }
      // the lease lasts one send: renewed before each, lost (another dispatcher took over) ends the batch
      if (!(await this.#renew(sub.subscriptionId))) break;
      this.opts.faultPoint?.('events.before-send');
      const o = await this.deps.webhooks.send(
        { url: sub.target, secret, format: sub.format as WebhookFormat },
        { event, attempt: d.attempts + 1 },
      );
      this.opts.faultPoint?.('events.after-send');
      out.push(o);
      if (!o.ok) break;
    }
    // deliveries after the first failure are not attempted: they stay as they were
    return due.map((_, i) => out[i] ?? NOT_ATTEMPTED);
  }

  /** Records delivered deliveries, one statement per receiver status (nearly always one). */
  async #recordDelivered(id: string, sent: { d: StoredDelivery; o: DeliveryOutcome }[]): Promise<void> {
    const byStatus = new Map<number | null, number[]>();
    for (const { d, o } of sent) byStatus.set(o.status ?? null, [...(byStatus.get(o.status ?? null) ?? []), d.seq]);
    for (const [status, seqs] of byStatus) await recordDelivered(this.deps.database.db, id, seqs, status, this.deps.clock.now());
  }

  /** Records one failed outcome; returns the delivery's new status. */
  async #record(d: StoredDelivery, o: DeliveryOutcome): Promise<'pending' | 'dead'> {
    const at = this.deps.clock.now();
    const key = { subscriptionId: d.subscriptionId, seq: d.seq };
    const detail = {
      ...(o.status !== undefined && { lastStatus: o.status }),
      ...(o.error !== undefined && { lastError: o.error.slice(0, 500) }),
    };
    const attempts = d.attempts + 1;
    if (!o.retryable || attempts >= this.opts.maxAttempts) {
      await recordAttempt(this.deps.database.db, key, { status: 'dead', attempts, at, ...detail });
      return 'dead';
    }
    const wait = retryDelayMs(attempts, this.opts.retryBaseMs, (this.opts.random ?? Math.random)());
    await recordAttempt(this.deps.database.db, key, {
      status: 'pending',
      attempts,
      at,
      nextAttemptAt: new Date(at.getTime() + wait),
      ...detail,
    });
    return 'pending';
  }
}
