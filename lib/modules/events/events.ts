/** The audit payloads of event subscriptions: who subscribed what to which events. Never a secret. */
import * as z from 'zod';
import { Iso, Text, type EventCatalogue } from '../../platform/audit/catalogue.js';

export const SubscriptionCreatedPayload = z.object({
  subscriptionId: Text,
  kind: z.enum(['webhook', 'bus']),
  target: Text.describe("the webhook's URL or the bus's name"),
  format: z.enum(['aegis', 'slack']),
  events: z.array(Text).describe('event types, or prefixes like promotion.* (* for all)'),
  description: z.string().optional(),
  createdAt: Iso,
});
export const SubscriptionDeletedPayload = z.object({ subscriptionId: Text, target: Text, deletedAt: Iso });
export const SubscriptionSecretSetPayload = z.object({ subscriptionId: Text });

const RESTORE = { restoredBy: 'the events restore, without the secret (lib/modules/events/restore.ts)' } as const;

export const EVENTS_EVENTS: EventCatalogue = {
  'subscription.created': { schema: SubscriptionCreatedPayload, restore: RESTORE },
  'subscription.deleted': { schema: SubscriptionDeletedPayload, restore: RESTORE },
  'subscription.secret_set': {
    schema: SubscriptionSecretSetPayload,
    restore: { notRestored: 'the secret is never chained: a restored webhook waits until an admin sets a new one' },
  },
};
