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
import { emfDirective, SERVING_DIMENSION_SETS, SERVING_METRIC, SERVING_METRICS_NAMESPACE, type EmfUnit } from '../../kernel/emf.js';
import type { Database } from '../../platform/ports/database.js';
import { ingestWatermarks, type ServingEventRow } from './store.js';
import type { ServingEventRecorder } from './event-sink.js';

/** The version field of a serving event line, and the value the subscription filter matches. */
export const SERVING_EVENT_FIELD = 'aegisServingEvent';
export const SERVING_EVENT_VERSION = 1;
/** The CloudWatch Logs filter pattern that selects serving event lines. */
export const SERVING_EVENT_FILTER_PATTERN = `{ $.${SERVING_EVENT_FIELD} = ${SERVING_EVENT_VERSION} }`;

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
  if (o.variant !== 'stable' && o.variant !== 'canary' && o.variant !== 'shadow') return { problem: 'variant: stable, canary or shadow' };
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
