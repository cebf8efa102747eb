/**
 * The serving-ingest side of the event log (event-log.ts): a subscription delivery's lines
 * parsed and inserted in batches within the Data API's limits, idempotently by request id,
 * each deployment's ingest watermark raised after the inserts, and one EMF line of the
 * delivery's lag, events and duplicates.
 */
import { emfDirective, SERVING_INGEST_SERVICE, SERVING_METRIC, SERVING_METRICS_NAMESPACE } from '../../kernel/emf.js';
import type { Executor } from '../../platform/ports/database.js';
import { parseServingEventLine, settledUntil } from './event-log.js';
import { eventKey, ingestWatermarks, insertNewEvents, raiseIngestWatermarks, type ServingEventRow } from './store.js';

/**
 * Rows per INSERT of the ingest (11 parameters a row: 880 per statement) and the most
 * prediction text per statement: each call stays far below the Data API's request size, its
 * 45 s statement timeout, and the 1 MiB per response (an INSERT returns nothing).
 */
export const INGEST_MAX_BATCH_ROWS = 80;
export const INGEST_MAX_BATCH_BYTES = 512 * 1024;

/**
 * Inserts the events in batches of at most {@link INGEST_MAX_BATCH_ROWS} rows and
 * {@link INGEST_MAX_BATCH_BYTES} of predictions; a request id already stored is skipped
 * (`ON CONFLICT (request_id, is_shadow) DO NOTHING`), so a redelivered log batch counts once.
 * Returns the number of INSERT statements made and the events they inserted ({@link eventKey}: a
 * request's shadow copy is an event of its own).
 */
export async function ingestServingEvents(
  x: Executor,
  rows: readonly ServingEventRow[],
): Promise<{ statements: number; inserted: Set<string> }> {
  let statements = 0;
  const inserted = new Set<string>();
  let batch: ServingEventRow[] = [];
  let bytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    for (const id of await insertNewEvents(x, batch)) inserted.add(id);
    statements++;
    batch = [];
    bytes = 0;
  };
  for (const row of rows) {
    const size = (row.prediction?.length ?? 0) + 256;
    if (batch.length >= INGEST_MAX_BATCH_ROWS || (batch.length > 0 && bytes + size > INGEST_MAX_BATCH_BYTES)) await flush();
    batch.push(row);
    bytes += size;
  }
  await flush();
  return { statements, inserted };
}

/**
 * What {@link ingestLogLines} did with a delivery: events in it, how many were new (the rest
 * were stored already: a redelivery), lines skipped, statements made, the oldest event's
 * time (null without events), and the late ones.
 */
export interface IngestOutcome {
  /** serving events in the delivery (inserted, or already there) */
  events: number;
  /** serving events of the delivery newly inserted (the rest were stored already: a redelivery) */
  inserted: number;
  /** lines that are not serving events, and why */
  skipped: { id: string; problem: string }[];
  /** INSERT statements of events made */
  statements: number;
  /** the oldest event's time (null without events) */
  oldestAt: Date | null;
  /**
   * events inserted now that are older than their deployment's settled end before this delivery
   * (watermark minus grace): a window the judge already ended after them did not count them.
   * A redelivered event (already stored) is not late: it was counted when it first arrived.
   */
  late: number;
}

/**
 * Parses log lines (`{ id, message }`, as a subscription delivers them), inserts the serving
 * events among them, then raises each deployment's watermark to the latest event time inserted
 * (capped at `now`, so a clock ahead cannot push it into the future). The watermark is written
 * only after every insert succeeded: a failure in between leaves it behind the events (the
 * judge sees less, never claims what is missing), and Lambda's retry inserts nothing twice.
 */
export async function ingestLogLines(
  x: Executor,
  lines: readonly { id: string; message: string }[],
  opts: { now: Date; graceSeconds: number },
): Promise<IngestOutcome> {
  const rows: ServingEventRow[] = [];
  const skipped: { id: string; problem: string }[] = [];
  let oldest: number | null = null;
  for (const line of lines) {
    const r = parseServingEventLine(line.message);
    if ('row' in r) {
      rows.push(r.row);
      const t = (r.row.at as Date).getTime();
      if (oldest === null || t < oldest) oldest = t;
    } else skipped.push({ id: line.id, problem: r.problem });
  }
  if (rows.length === 0) return { events: 0, inserted: 0, skipped, statements: 0, oldestAt: null, late: 0 };
  const latest = new Map<string, number>();
  for (const r of rows) latest.set(r.deployment_key, Math.max(latest.get(r.deployment_key) ?? -Infinity, r.at.getTime()));
  const before = await ingestWatermarks(x, [...latest.keys()]);
  const { statements, inserted } = await ingestServingEvents(x, rows);
  const insertedCount = inserted.size;
  // each inserted request once (a delivery may repeat a line)
  const late = rows.filter(
    (r) => r.at < settledUntil(before.get(r.deployment_key), opts.graceSeconds, opts.now) && inserted.delete(eventKey(r)),
  ).length;
  const marks = [...latest].map(([deploymentKey, at]) => ({ deploymentKey, eventAt: new Date(Math.min(at, opts.now.getTime())) }));
  await raiseIngestWatermarks(x, marks, opts.now);
  return { events: rows.length, inserted: insertedCount, skipped, statements, oldestAt: oldest === null ? null : new Date(oldest), late };
}

/**
 * The ingest's EMF line for one delivery (namespace `Aegis/Serving`, dimension
 * `Service=serving-ingest`): `IngestLagSeconds`, from the delivery's oldest event to `now`
 * (the most any of its events waited: the alarm's signal that the judge reads stale data),
 * `IngestedEvents` and `DuplicateEvents` (already stored: CloudWatch Logs or Lambda delivered
 * them again). Null for a delivery without serving events: no lag to report.
 */
export function ingestMetricsLine(outcome: Pick<IngestOutcome, 'events' | 'inserted' | 'oldestAt'>, now: Date): string | null {
  if (outcome.events === 0 || outcome.oldestAt === null) return null;
  return JSON.stringify({
    Service: SERVING_INGEST_SERVICE,
    [SERVING_METRIC.ingestLag]: Math.max(0, (now.getTime() - outcome.oldestAt.getTime()) / 1000),
    [SERVING_METRIC.ingested]: outcome.events,
    [SERVING_METRIC.duplicates]: outcome.events - outcome.inserted,
    _aws: emfDirective(now.getTime(), SERVING_METRICS_NAMESPACE, [['Service']], {
      [SERVING_METRIC.ingestLag]: 'Seconds',
      [SERVING_METRIC.ingested]: 'Count',
      [SERVING_METRIC.duplicates]: 'Count',
    }),
  });
}
