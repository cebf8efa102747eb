/**
 * Label feedback: the ground truth of served requests, by request id, as it arrives (often
 * long after the prediction). Labels are data, not registry changes: not audited. Quality is
 * joined on read ({@link qualityWindow}): a label may arrive before its request's serving event
 * is written (events are batched) or for a request id serving never saw, so an unknown request
 * id is accepted and stored; it counts once an event of that id in that deployment exists, and
 * it is purged by retention like the rest.
 */
import { AegisError } from '../../kernel/errors.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import { insertLabels, labelsOf, type LabelRow } from './store.js';

/** At most this many labels in one feedback request. */
export const FEEDBACK_MAX_ITEMS = 500;

export interface FeedbackItem {
  requestId: string;
  label: string;
}

export interface FeedbackResult {
  /** labels stored by this call */
  accepted: number;
  /** labels that were already stored with the same value (a retried call): no-ops */
  unchanged: number;
}

// the body's field path as the handler names a schema error of the same body (`items.3.label`)
const conflict = (i: number, message: string) => new AegisError('CONFLICT', `items.${i}.label: ${message}`, { field: `items.${i}.label` });

/**
 * Stores the labels of a deployment's requests, all or none. The same request id and label
 * again is a no-op; a different label for a request id already labelled (in the store or
 * earlier in the batch) is a 409 naming `items.<i>.label`, and nothing of the batch is stored.
 */
export async function recordFeedback(
  d: { database: Database; clock: Clock },
  deploymentKey: string,
  items: readonly FeedbackItem[],
): Promise<FeedbackResult> {
  const first = new Map<string, number>();
  items.forEach((it, i) => {
    const j = first.get(it.requestId);
    if (j === undefined) first.set(it.requestId, i);
    else if (items[j]!.label !== it.label)
      throw conflict(i, `request ${it.requestId} is labelled ${JSON.stringify(items[j]!.label)} by items.${j}`);
  });
  const receivedAt = d.clock.now();
  return d.database.db.transaction().execute(async (tx) => {
    const ids = [...first.keys()];
    const known = await labelsOf(tx, deploymentKey, ids);
    const fresh: LabelRow[] = [];
    for (const [id, i] of first) {
      const had = known.get(id);
      if (had === undefined) fresh.push({ deployment_key: deploymentKey, request_id: id, label: items[i]!.label, received_at: receivedAt });
      else if (had !== items[i]!.label) throw conflict(i, `request ${id} is already labelled ${JSON.stringify(had)}`);
    }
    const inserted = await insertLabels(tx, fresh);
    const raced = fresh.filter((r) => !inserted.has(r.request_id));
    if (raced.length) {
      // another call labelled some of them meanwhile: the same label is a no-op, another a conflict
      const now = await labelsOf(
        tx,
        deploymentKey,
        raced.map((r) => r.request_id),
      );
      for (const r of raced)
        if (now.get(r.request_id) !== r.label)
          throw conflict(first.get(r.request_id)!, `request ${r.request_id} is already labelled ${JSON.stringify(now.get(r.request_id))}`);
    }
    return { accepted: inserted.size, unchanged: ids.length - inserted.size };
  });
}
