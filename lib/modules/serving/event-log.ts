/**
 * Serving events as log lines, for Lambda: the serving function makes no database call per
 * request; it writes each event as ONE line of JSON on stdout, and the `serving-ingest`
 * function (on a CloudWatch Logs subscription filter of the serving function's log group)
 * parses the lines back and inserts them in batches, idempotently by request id (delivery is
 * at least once).
 *
 * The line (one JSON object, no newline inside; `aegisServingEvent` is the shape's version and
 * what the subscription filter matches, `{ $.aegisServingEvent = 1 }`):
 *
 * ```json
 * {"aegisServingEvent":1,"requestId":"r-1","deploymentKey":"churn/prod","variant":"canary","artifactId":"…",
 *  "promotionId":"…","at":"2026-11-30T07:00:00.000Z","latencyMs":3.2,"error":false,"cold":false,"prediction":"[…]"}
 * ```
 *
 * `prediction` is the canonical JSON of the predictions (as the table stores it), or null for
 * an error. The latency bucket is not in the line: the ingest computes it as the local sink does.
 *
 * **The ingest watermark.** Delivery lags (seconds to minutes), and is at least once and out of
 * order across log streams (one per Lambda execution environment; a failed delivery is retried
 * by Lambda a minute or more later). So the judge cannot end a window at "now": after inserting
 * a delivery's events, the ingest raises its deployment's watermark to the latest event time it
 * inserted (never lowering it), and the judge ends each window at {@link settledUntil}: the
 * watermark minus a grace (`AEGIS_SERVING_INGEST_GRACE_SECONDS`), never after now. The rule
 * assumes that an event is ingested at most the grace after a later event of its deployment; an
 * event later than that (a slow stream, a retried delivery) is counted by `ingestLogLines` as
 * `late`, logged, and still counted by every later window that covers it (the stage's windows
 * accumulate), but not by a window already judged.
 */
import { latencyBucket } from '../../kernel/canary-metrics.js';
import {
  emfDirective,
  SERVING_DIMENSION_SETS,
  SERVING_METRIC,
  SERVING_INGEST_SERVICE,
  SERVING_METRICS_NAMESPACE,
  type EmfUnit,
} from '../../kernel/emf.js';
import type { Database, Executor } from '../../platform/ports/database.js';
import { ingestWatermarks, insertNewEvents, raiseIngestWatermarks, type ServingEventRow } from './store.js';
import type { ServingEventRecorder } from './event-sink.js';

/** The version field of a serving event line, and the value the subscription filter matches. */
export const SERVING_EVENT_FIELD = 'aegisServingEvent';
export const SERVING_EVENT_VERSION = 1;
/** The CloudWatch Logs filter pattern that selects serving event lines. */
export const SERVING_EVENT_FILTER_PATTERN = `{ $.${SERVING_EVENT_FIELD} = ${SERVING_EVENT_VERSION} }`;

/**
 * Rows per INSERT of the ingest (11 parameters a row: 880 per statement) and the most
 * prediction text per statement: each call stays far below the Data API's request size, its
 * 45 s statement timeout, and the 1 MiB per response (an INSERT returns nothing).
 */
export const INGEST_MAX_BATCH_ROWS = 80;
export const INGEST_MAX_BATCH_BYTES = 512 * 1024;

/**
 * The end of what is completely ingested for a deployment: its watermark minus the grace,
 * never after `now`; the epoch when nothing was ingested for it (so no window reaches past it).
 *
 * @example settledUntil(new Date('2026-11-30T07:00:30Z'), 10, now) // 07:00:20, if now is later
 */
export function settledUntil(watermark: Date | undefined, graceSeconds: number, now: Date): Date {
  if (!watermark) return new Date(0);
  return new Date(Math.min(now.getTime(), watermark.getTime() - graceSeconds * 1000));
}

/**
 * The log line of one event (no trailing newline), which is also a CloudWatch EMF document:
 * after the event's fields come `Model`, `Environment`, `Variant` (dimensions), `Requests`,
 * `Errors` and, for a request that did not wait on a model load, `LatencyMs` (metrics), and
 * the `_aws` directive naming them (namespace `Aegis/Serving`, {@link SERVING_DIMENSION_SETS}).
 *
 * EMF in the event line rather than metric filters on the log group: the metrics are defined
 * here, beside the fields they read, and unit-tested with them; a cold request's latency is
 * left out as the canary judge leaves it out (a filter cannot drop one metric of a line); the
 * model and environment are dimensions of their own (a filter can only use `deploymentKey`
 * whole); and CloudWatch Logs disables a metric filter whose dimensions pass 1,000 values an
 * hour. The price is about 330 bytes more per line (README: cost per million predictions).
 */
export function servingEventLine(row: ServingEventRow): string {
  const at = row.at instanceof Date ? row.at : new Date(row.at);
  const slash = row.deployment_key.lastIndexOf('/');
  const metrics: Record<string, EmfUnit> = { [SERVING_METRIC.requests]: 'Count', [SERVING_METRIC.errors]: 'Count' };
  if (!row.cold) metrics[SERVING_METRIC.latency] = 'Milliseconds';
  return JSON.stringify({
    [SERVING_EVENT_FIELD]: SERVING_EVENT_VERSION,
    requestId: row.request_id,
    deploymentKey: row.deployment_key,
    variant: row.variant,
    artifactId: row.artifact_id,
    promotionId: row.promotion_id ?? null,
    at: at.toISOString(),
    latencyMs: row.latency_ms,
    error: row.error,
    cold: row.cold,
    prediction: row.prediction ?? null,
    // EMF: fields added after the event's own (the ingest ignores them)
    Model: row.deployment_key.slice(0, slash),
    Environment: row.deployment_key.slice(slash + 1),
    Variant: row.variant,
    [SERVING_METRIC.requests]: 1,
    [SERVING_METRIC.errors]: row.error ? 1 : 0,
    ...(!row.cold && { [SERVING_METRIC.latency]: row.latency_ms }),
    _aws: emfDirective(at.getTime(), SERVING_METRICS_NAMESPACE, SERVING_DIMENSION_SETS, metrics),
  });
}

const isString = (v: unknown): v is string => typeof v === 'string';

/**
 * The event of a log line, or a reason it is not one. Lambda's JSON log format may wrap a
 * line as `{ "message": "<line>" }`: both are read.
 */
export function parseServingEventLine(text: string): { row: ServingEventRow } | { problem: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { problem: 'not JSON' };
  }
  if (v && typeof v === 'object' && !(SERVING_EVENT_FIELD in v) && isString((v as { message?: unknown }).message))
    return parseServingEventLine((v as { message: string }).message);
  if (!v || typeof v !== 'object') return { problem: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  if (o[SERVING_EVENT_FIELD] !== SERVING_EVENT_VERSION) return { problem: `${SERVING_EVENT_FIELD} is not ${SERVING_EVENT_VERSION}` };
  for (const f of ['requestId', 'deploymentKey', 'artifactId', 'at'] as const)
    if (!isString(o[f]) || o[f] === '') return { problem: `${f}: a non-empty string is required` };
  if (o.variant !== 'stable' && o.variant !== 'canary') return { problem: 'variant: stable or canary' };
  if (o.promotionId !== null && !isString(o.promotionId)) return { problem: 'promotionId: a string or null' };
  const at = new Date(o.at as string);
  if (Number.isNaN(at.getTime())) return { problem: 'at: an ISO timestamp is required' };
  if (typeof o.latencyMs !== 'number' || !Number.isFinite(o.latencyMs) || o.latencyMs < 0)
    return { problem: 'latencyMs: a number >= 0 is required' };
  if (typeof o.error !== 'boolean') return { problem: 'error: a boolean is required' };
  if (typeof o.cold !== 'boolean') return { problem: 'cold: a boolean is required' };
  if (o.prediction !== null && !isString(o.prediction)) return { problem: 'prediction: a string or null' };
  return {
    row: {
      request_id: o.requestId as string,
      deployment_key: o.deploymentKey as string,
      variant: o.variant,
      artifact_id: o.artifactId as string,
      promotion_id: (o.promotionId as string | null) ?? null,
      at,
      latency_ms: o.latencyMs,
      latency_bucket: latencyBucket(o.latencyMs),
      error: o.error,
      cold: o.cold,
      prediction: (o.prediction as string | null) ?? null,
    },
  };
}

/**
 * Inserts the events in batches of at most {@link INGEST_MAX_BATCH_ROWS} rows and
 * {@link INGEST_MAX_BATCH_BYTES} of predictions; a request id already stored is skipped
 * (`ON CONFLICT (request_id) DO NOTHING`), so a redelivered log batch counts once.
 * Returns the number of INSERT statements made and the request ids they inserted.
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
    (r) => r.at < settledUntil(before.get(r.deployment_key), opts.graceSeconds, opts.now) && inserted.delete(r.request_id),
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

/**
 * The Lambda recorder: one line per event on stdout, nothing else (no API call on the request
 * path). `process.stdout.write`, not `console.log`: Lambda's JSON log format wraps console
 * output in its own record, while a raw line reaches the log stream as written. Its events
 * reach the database through the ingest, so what is complete ends at the ingest watermark.
 */
export class LogLineEventRecorder implements ServingEventRecorder {
  /** each line is an EMF document with the request's metrics per variant ({@link servingEventLine}) */
  readonly carriesMetrics = true;

  readonly #write: (line: string) => void;

  constructor(
    private readonly ingest: { database: Pick<Database, 'db'>; graceSeconds: number },
    write: (line: string) => void = (line) => void process.stdout.write(`${line}\n`),
  ) {
    this.#write = write;
  }

  add(row: ServingEventRow): void {
    this.#write(servingEventLine(row));
  }

  /** Nothing is buffered: the lines are written as they come. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  /** The deployment's ingest watermark minus the grace, never after `now` ({@link settledUntil}). */
  async settledUntil(deploymentKey: string, now: Date): Promise<Date> {
    const marks = await ingestWatermarks(this.ingest.database.db, [deploymentKey]);
    return settledUntil(marks.get(deploymentKey), this.ingest.graceSeconds, now);
  }
}
