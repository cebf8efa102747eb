import * as z from 'zod';
import { AuditEventSchema } from './audit.js';

/** Events out: webhooks (admin), their deliveries and dead letters, and the long-polled event stream. */

/** An event type (`promotion.rolled_back`) or a prefix (`promotion.*`, `*` for all). */
const EventPattern = z
  .string()
  .max(120)
  .regex(/^(\*|[a-z]+(\.[a-z_]+)*(\.\*)?)$/, 'must be an event type like promotion.rolled_back, a prefix like promotion.*, or *');
const Iso = z.string();
export const WebhookId = z.string().regex(/^(wh|bus)_[0-9a-f-]{36}$|^bus$/, 'must be a webhook id (wh_…)');

export const WebhookCreateBody = z
  .object({
    url: z.string().min(1).max(2048).describe('https://… (http:// and private addresses only where the server allows them)'),
    events: z.array(EventPattern).min(1).max(50).describe('event types or prefixes: promotion.rolled_back, drift.*, *'),
    secret: z
      .string()
      .max(256)
      .optional()
      .describe('the HMAC-SHA256 key (24-256 printable characters); absent: generated and answered once'),
    format: z
      .enum(['aegis', 'slack'])
      .default('aegis')
      .describe('aegis: the event as JSON; slack: {"text": …} for a Slack-compatible incoming webhook'),
    description: z.string().max(500).optional(),
  })
  .strict();
export const WebhookSchema = z.object({
  subscriptionId: z.string(),
  kind: z.enum(['webhook', 'bus']),
  target: z.string().describe("the webhook's URL, or the bus's name"),
  format: z.enum(['aegis', 'slack']),
  description: z.string().nullable(),
  events: z.array(z.string()),
  hasSecret: z.boolean().describe('false after a rebuild until an admin sets a new secret: its deliveries wait'),
  createdBy: z.string(),
  createdAt: Iso,
  pending: z.number().int(),
  dead: z.number().int(),
  lastDeliveredAt: Iso.nullable(),
});
export type WebhookReply = z.output<typeof WebhookSchema>;
export const WebhookCreateReply = z.object({
  webhook: WebhookSchema,
  secret: z.string().optional().describe('the generated secret, answered this once (absent when the request gave one)'),
});
export type WebhookCreateReply = z.output<typeof WebhookCreateReply>;
export const WebhooksReply = z.object({ items: z.array(WebhookSchema) });
export type WebhooksReply = z.output<typeof WebhooksReply>;
export const WebhookParams = z.object({ id: WebhookId }).strict();
export const WebhookDeleteReply = z.object({ subscriptionId: z.string(), deleted: z.literal(true) });
export const WebhookSecretBody = z
  .object({ secret: z.string().max(256).optional().describe('the new HMAC key; absent: generated and answered once') })
  .strict();
export const WebhookSecretReply = z.object({ secret: z.string().optional() });
export type WebhookSecretReply = z.output<typeof WebhookSecretReply>;
export const WebhookTestReply = z.object({
  ok: z.boolean(),
  status: z.number().int().nullable().describe("the receiver's HTTP status"),
  error: z.string().nullable(),
  ms: z.number(),
});
export type WebhookTestReply = z.output<typeof WebhookTestReply>;
export const DeliveriesQuery = z
  .object({
    status: z.enum(['pending', 'delivered', 'dead']).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    cursor: z
      .string()
      .regex(/^\d{1,15}$/, 'must be a seq from nextCursor')
      .optional(),
  })
  .strict();
export const DeliverySchema = z.object({
  seq: z.number().int(),
  eventType: z.string(),
  status: z.enum(['pending', 'delivered', 'dead']),
  attempts: z.number().int(),
  nextAttemptAt: Iso,
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  createdAt: Iso,
  finishedAt: Iso.nullable(),
});
export const DeliveriesReply = z.object({ items: z.array(DeliverySchema), nextCursor: z.string().nullable() });
export type DeliveriesReply = z.output<typeof DeliveriesReply>;
export const ReplayBody = z
  .object({ seqs: z.array(z.number().int().min(1)).min(1).max(1000).optional().describe('the dead deliveries to send again; absent: all') })
  .strict();
export const ReplayReply = z.object({ requeued: z.number().int() });
export const EventsQuery = z
  .object({
    after: z
      .string()
      .regex(/^\d{1,15}$/, 'must be a seq (the cursor of the last answer)')
      .optional()
      .describe('events after this seq; absent: only events appended from now on'),
    type: z.string().max(1000).optional().describe('comma-separated event types or prefixes (promotion.*, drift.suggestion); absent: all'),
    wait: z.coerce
      .number()
      .int()
      .min(0)
      .max(25)
      .default(20)
      .describe('seconds to wait for a first event (API Gateway ends a request at 29 s)'),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();
export const EventsReply = z.object({
  items: z.array(AuditEventSchema),
  cursor: z.number().int().describe('pass as `after` to go on (it moves past filtered-out events too)'),
});
export type EventsReply = z.output<typeof EventsReply>;
