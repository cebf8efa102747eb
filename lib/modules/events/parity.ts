/**
 * The event subscriptions as parity compares them: what the chain says of each (deleted ones
 * too). Not the secret (never chained), nor the dispatch lease or the deliveries (operational).
 */
import type { Executor } from '../../platform/ports/database.js';
import { filterText } from './domain.js';
import { readSubscriptions } from './store.js';

export interface EventSubscriptionSnapshot {
  id: string;
  kind: string;
  target: string;
  format: string;
  description: string | null;
  /** as the caller writes them (`promotion.*`, `*`), sorted */
  filters: string[];
  createdBy: string;
  createdAt: string;
  deletedAt: string | null;
}

/** Every subscription, by id. */
export async function eventSubscriptionsSnapshot(x: Executor): Promise<EventSubscriptionSnapshot[]> {
  return (await readSubscriptions(x, { includeDeleted: true })).map((s) => ({
    id: s.subscriptionId,
    kind: s.kind,
    target: s.target,
    format: s.format,
    description: s.description,
    filters: s.filters.map(filterText).sort(),
    createdBy: s.createdBy,
    createdAt: s.createdAt.toISOString(),
    deletedAt: s.deletedAt?.toISOString() ?? null,
  }));
}
