/**
 * The {@link EventBusPublisher} on AWS: each audit event one PutEvents entry on the stack's bus
 * (`Source: aegis`, `DetailType` = its type, `Detail` = the event with its seq, hash and
 * signature, so a consumer verifies it against `GET /v1/keys`).
 *
 * Sizes as EventBridge counts them (its "Calculating PutEvents event entry size"): `Time` 14
 * bytes when given, then the UTF-8 bytes of `Source`, `DetailType`, `Detail` and each of
 * `Resources`. An entry over 256 KB goes as the event's header (no payload) with
 * `truncated: true` and the route that fetches it; a call holds at most 10 entries and 256 KB.
 */
import { PutEventsCommand, type EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { AuditEvent } from '../../../kernel/audit-chain.js';
import type { DeliveryOutcome, EventBusPublisher } from '../../ports/event-delivery.js';

/** EventBridge's limit on one entry and on one PutEvents call, in bytes. */
export const EVENTBRIDGE_MAX_BYTES = 256 * 1024;
/** EventBridge's limit on entries per PutEvents call. */
export const EVENTBRIDGE_MAX_ENTRIES = 10;
export const EVENT_SOURCE = 'aegis';

/** Error codes of a failed entry that a retry cannot fix (the entry itself is wrong). */
const NOT_RETRYABLE = new Set(['InvalidArgument', 'MalformedDetail', 'ValidationException']);

export interface EventBridgePublisherOptions {
  busName: string;
  client: Pick<EventBridgeClient, 'send'>;
  /** @default {@link EVENTBRIDGE_MAX_BYTES}: tests lower it */
  maxBytes?: number;
}

const bytes = (s: string | undefined) => (s === undefined ? 0 : Buffer.byteLength(s, 'utf8'));

/** The size EventBridge counts for an entry. */
export function entrySize(e: PutEventsRequestEntry): number {
  return (
    (e.Time ? 14 : 0) + bytes(e.Source) + bytes(e.DetailType) + bytes(e.Detail) + (e.Resources ?? []).reduce((n, r) => n + bytes(r), 0)
  );
}

/** What goes on the bus for an event too large for an entry: its header, hash and signature, and where to fetch it. */
export function eventHeader(e: AuditEvent) {
  const { seq, eventId, type, actor, subject, ts, prevHash, hash, signature, signerId } = e;
  return {
    seq,
    eventId,
    type,
    actor,
    subject,
    ts,
    prevHash,
    hash,
    signature,
    signerId,
    truncated: true as const,
    fetch: `/v1/audit?cursor=${seq - 1}&limit=1`,
  };
}

export class EventBridgePublisher implements EventBusPublisher {
  readonly #max: number;

  constructor(private readonly opts: EventBridgePublisherOptions) {
    this.#max = opts.maxBytes ?? EVENTBRIDGE_MAX_BYTES;
  }

  /** The event's entry: whole when it fits, else its header. */
  entry(e: AuditEvent): PutEventsRequestEntry {
    const entry = (detail: unknown): PutEventsRequestEntry => ({
      EventBusName: this.opts.busName,
      Source: EVENT_SOURCE,
      DetailType: e.type,
      Detail: JSON.stringify(detail),
      Time: new Date(e.ts),
    });
    const whole = entry(e);
    return entrySize(whole) <= this.#max ? whole : entry(eventHeader(e));
  }

  /**
   * Sends the events in calls of at most 10 entries and 256 KB, in order. After a call with a
   * failed entry the later calls are not made (their events stay pending: chain order); within
   * one call EventBridge may accept entries after a failed one, which are then sent again.
   */
  async publish(events: readonly AuditEvent[]): Promise<DeliveryOutcome[]> {
    const out: DeliveryOutcome[] = [];
    const batches = this.#batches(events.map((e) => this.entry(e)));
    for (const [i, batch] of batches.entries()) {
      const outcomes = await this.#put(batch);
      out.push(...outcomes);
      if (outcomes.some((o) => !o.ok)) {
        const rest = batches.slice(i + 1).flat().length;
        out.push(
          ...Array.from({ length: rest }, () => ({ ok: false, retryable: true, ms: 0, error: 'not sent: an earlier entry failed' })),
        );
        break;
      }
    }
    return out;
  }

  #batches(entries: PutEventsRequestEntry[]): PutEventsRequestEntry[][] {
    const batches: PutEventsRequestEntry[][] = [];
    let current: PutEventsRequestEntry[] = [];
    let size = 0;
    for (const e of entries) {
      const n = entrySize(e);
      if (current.length === EVENTBRIDGE_MAX_ENTRIES || (current.length > 0 && size + n > this.#max)) {
        batches.push(current);
        current = [];
        size = 0;
      }
      current.push(e);
      size += n;
    }
    if (current.length > 0) batches.push(current);
    return batches;
  }

  /** One PutEvents call: an outcome per entry; a call that throws fails them all, retryably. */
  async #put(entries: PutEventsRequestEntry[]): Promise<DeliveryOutcome[]> {
    const started = Date.now();
    try {
      const res = await this.opts.client.send(new PutEventsCommand({ Entries: entries }));
      const ms = Date.now() - started;
      return entries.map((_, i) => {
        const r = res.Entries?.[i];
        if (r?.EventId && !r.ErrorCode) return { ok: true, retryable: false, ms };
        const code = r?.ErrorCode ?? 'NoResult';
        return {
          ok: false,
          retryable: !NOT_RETRYABLE.has(code),
          ms,
          error: `PutEvents refused the entry (${code})${r?.ErrorMessage ? `: ${r.ErrorMessage}` : ''}`,
        };
      });
    } catch (e) {
      const ms = Date.now() - started;
      const err = e as Error;
      return entries.map(() => ({ ok: false, retryable: true, ms, error: `PutEvents failed (${err.name}): ${err.message}` }));
    }
  }
}
