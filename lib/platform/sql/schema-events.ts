/** The events module's tables (migration 0016); joined into `DB` in schema.ts. */
import type { ColumnType } from 'kysely';

type Ts = ColumnType<Date | string, Date, Date>;

/** A webhook or the stack's event bus (restored from its events, but for the secret). */
export interface EventSubscriptionsTable {
  subscription_id: string;
  /** `webhook` or `bus` */
  kind: string;
  /** the webhook's URL or the bus's name */
  target: string;
  /** `aegis` or `slack` */
  format: string;
  description: string | null;
  secret: string | null;
  created_by: string;
  created_at: Ts;
  deleted_at: Ts | null;
  lease_owner: string | null;
  lease_until: Ts | null;
}

/** The event types (or prefixes) a subscription wants. */
export interface EventSubscriptionFiltersTable {
  subscription_id: string;
  pattern: string;
  prefix: boolean;
}

/** The outbox: one event for one subscription, and how its delivery went. Operational state, not restored. */
export interface EventDeliveriesTable {
  subscription_id: string;
  /** bigint: a string from pg, a number from PGlite */
  seq: ColumnType<string | number, number, number>;
  event_type: string;
  /** `pending`, `delivered` or `dead` */
  status: string;
  attempts: number;
  next_attempt_at: Ts;
  last_status: number | null;
  last_error: string | null;
  created_at: Ts;
  finished_at: Ts | null;
}

/** The events module's tables, as `DB` joins them. */
export interface EventTables {
  event_subscriptions: EventSubscriptionsTable;
  event_subscription_filters: EventSubscriptionFiltersTable;
  event_deliveries: EventDeliveriesTable;
}
