/** Events out, the pure rules: what a subscription matches, how long a failed delivery waits, secrets. */
import { randomBytes } from 'node:crypto';
import { AegisError } from '../../kernel/errors.js';

/** A subscription's wish: one event type, or every type under a prefix (`promotion.*`; `*` for all). */
export interface EventFilter {
  pattern: string;
  prefix: boolean;
}

export type SubscriptionKind = 'webhook' | 'bus';
export type WebhookFormat = 'aegis' | 'slack';
export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

/** The id of the stack's event bus subscription (AWS): there is one. */
export const BUS_SUBSCRIPTION_ID = 'bus';

/** At most this many filters per subscription. */
export const MAX_FILTERS = 50;

/**
 * The filter one entry writes (`promotion.rolled_back`, `drift.*`, `*`), whatever the event types
 * of the day: undefined when it is none (empty, blank, a space, or a `*` anywhere but a trailing
 * `.*` or alone). Recovery reads the entries of old events with it.
 */
export function filterOf(w: string): EventFilter | undefined {
  const prefix = w === '*' || w.endsWith('.*');
  const pattern = w === '*' ? '' : prefix ? w.slice(0, -1) : w;
  if (pattern.includes('*') || /\s/.test(w) || (!prefix && pattern === '')) return undefined;
  return { pattern, prefix };
}

/**
 * Parses what a caller asks for (`promotion.rolled_back`, `drift.*`, `*`) against the event types
 * Aegis appends: an exact type must be one of them, a prefix must match at least one; refuses
 * naming the entry (`events[2]`).
 */
export function parseFilters(wanted: readonly string[], known: readonly string[], name = 'events'): EventFilter[] {
  const out = new Map<string, EventFilter>();
  wanted.forEach((w, i) => {
    const f = filterOf(w);
    if (!f || (f.prefix ? !known.some((t) => t.startsWith(f.pattern)) : !known.includes(f.pattern)))
      throw new AegisError(
        'VALIDATION_FAILED',
        f?.prefix
          ? `${w} matches no event type Aegis appends`
          : `${w} is not an event type Aegis appends (a prefix is written like promotion.*)`,
        { field: `${name}[${i}]` },
      );
    out.set(filterKey(f), f);
  });
  return [...out.values()];
}

/** Two entries writing the same filter (`a.*` twice) are one. */
export const filterKey = (f: EventFilter): string => `${f.prefix}:${f.pattern}`;

/** The filters as the caller writes them back (`promotion.*`, `*`). */
export const filterText = (f: EventFilter): string => (f.prefix ? (f.pattern === '' ? '*' : `${f.pattern}*`) : f.pattern);

/** Whether an event type is one the filters want (the same test the outbox's SQL makes). */
export const matchesFilters = (type: string, filters: readonly EventFilter[]): boolean =>
  filters.some((f) => (f.prefix ? type.startsWith(f.pattern) : type === f.pattern));

/** The longest a failed delivery waits before its next attempt. */
export const MAX_RETRY_DELAY_MS = 15 * 60_000;

/**
 * How long to wait after the `attempts`-th failed attempt: `base` doubled per attempt, at most
 * {@link MAX_RETRY_DELAY_MS}, less up to a fifth at random (`jitter` in [0, 1)) so many failing
 * receivers do not retry in step.
 */
export function retryDelayMs(attempts: number, base: number, jitter: number): number {
  const full = Math.min(MAX_RETRY_DELAY_MS, base * 2 ** Math.max(0, attempts - 1));
  return Math.round(full * (1 - 0.2 * jitter));
}

/** A new HMAC secret: 32 random bytes, recognisable in a leak scan by its prefix. */
export const newSecret = (): string => `whsec_${randomBytes(32).toString('base64url')}`;

/** A caller's own secret: long enough to resist guessing, printable. */
export function checkSecret(secret: string): void {
  if (secret.length < 24 || secret.length > 256 || !/^[\x21-\x7e]+$/.test(secret))
    throw new AegisError('VALIDATION_FAILED', 'a webhook secret must be 24-256 printable characters without spaces', { field: 'secret' });
}
