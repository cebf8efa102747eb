/**
 * The event delivery port: how the dispatcher hands one audit event to one subscriber.
 * Adapters: `adapters/event-delivery/webhook.ts` (an HTTP POST signed with the subscription's
 * HMAC secret, both modes, with the address rules against SSRF) and
 * `adapters/event-delivery/eventbridge.ts` (PutEvents on the stack's bus, Lambda).
 */
import type { AuditEvent } from '../../kernel/audit-chain.js';

/** How one attempt went. `retryable: false` sends the delivery to the dead letters at once (a refused address). */
export interface DeliveryOutcome {
  ok: boolean;
  /** the HTTP status the receiver answered with (webhooks) */
  status?: number;
  /** why it failed, for the delivery's record (never the secret, never the body) */
  error?: string;
  retryable: boolean;
  ms: number;
}

/** A webhook subscription as the sender needs it. */
export interface WebhookTarget {
  url: string;
  /** the HMAC-SHA256 key of the subscription */
  secret: string;
  /** `aegis`: the audit event as JSON; `slack`: `{ text, event }` (a Slack-compatible incoming webhook) */
  format: 'aegis' | 'slack';
}

/** One delivery attempt of one event (or a test fire) to one webhook. */
export interface WebhookDelivery {
  event: AuditEvent;
  /** 1 for the first attempt */
  attempt: number;
  /** a test fire (`POST /v1/webhooks/{id}/test`): not an event of the chain */
  test?: boolean;
}

export interface WebhookSender {
  send(target: WebhookTarget, delivery: WebhookDelivery): Promise<DeliveryOutcome>;
  /**
   * Checks a subscription's URL against the address rules (scheme, and every address its host
   * resolves to) before it is stored; the sender checks again at each delivery (DNS may change).
   * Resolves to null when allowed, else the reason.
   */
  refusal(url: string): Promise<string | null>;
}

/** The stack's event bus (AWS): each event one entry, `source: aegis`, `detail-type` = its type. */
export interface EventBusPublisher {
  /** Publishes the events in order; one outcome per event, in the same order. */
  publish(events: readonly AuditEvent[]): Promise<DeliveryOutcome[]>;
}
