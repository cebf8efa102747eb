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
 */
import { latencyBucket } from '../../kernel/canary-metrics.js';
import type { Executor } from '../../platform/ports/database.js';
import { insertEvents, type ServingEventRow } from './store.js';
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

/** The log line of one event (no trailing newline). */
export function servingEventLine(row: ServingEventRow): string {
  return JSON.stringify({
    [SERVING_EVENT_FIELD]: SERVING_EVENT_VERSION,
    requestId: row.request_id,
    deploymentKey: row.deployment_key,
    variant: row.variant,
    artifactId: row.artifact_id,
    promotionId: row.promotion_id ?? null,
    at: (row.at instanceof Date ? row.at : new Date(row.at)).toISOString(),
    latencyMs: row.latency_ms,
    error: row.error,
    cold: row.cold,
    prediction: row.prediction ?? null,
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
 * Returns the number of INSERT statements made.
 */
export async function ingestServingEvents(x: Executor, rows: readonly ServingEventRow[]): Promise<number> {
  let statements = 0;
  let batch: ServingEventRow[] = [];
  let bytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await insertEvents(x, batch);
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
  return statements;
}

/** What {@link ingestLogLines} did with a delivery: events inserted (or already there), lines skipped, statements made. */
export interface IngestOutcome {
  events: number;
  skipped: { id: string; problem: string }[];
  statements: number;
}

/** Parses log lines (`{ id, message }`, as a subscription delivers them) and inserts the serving events among them. */
export async function ingestLogLines(x: Executor, lines: readonly { id: string; message: string }[]): Promise<IngestOutcome> {
  const rows: ServingEventRow[] = [];
  const skipped: { id: string; problem: string }[] = [];
  for (const line of lines) {
    const r = parseServingEventLine(line.message);
    if ('row' in r) rows.push(r.row);
    else skipped.push({ id: line.id, problem: r.problem });
  }
  const statements = rows.length > 0 ? await ingestServingEvents(x, rows) : 0;
  return { events: rows.length, skipped, statements };
}

/**
 * The Lambda recorder: one line per event on stdout, nothing else (no API call on the request
 * path). `process.stdout.write`, not `console.log`: Lambda's JSON log format wraps console
 * output in its own record, while a raw line reaches the log stream as written.
 */
export class LogLineEventRecorder implements ServingEventRecorder {
  constructor(private readonly write: (line: string) => void = (line) => void process.stdout.write(`${line}\n`)) {}

  add(row: ServingEventRow): void {
    this.write(servingEventLine(row));
  }

  /** Nothing is buffered: the lines are written as they come. */
  flush(): Promise<void> {
    return Promise.resolve();
  }
}
