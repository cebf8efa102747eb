import { gunzipSync } from 'node:zlib';
import { ingestLogLines, ingestMetricsLine } from '../lib/modules/serving/ingest.js';
import type { Container } from '../lib/platform/composition/container.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';

/** What CloudWatch Logs sends a subscription's function: gzip'd, base64'd JSON. */
export interface LogsSubscriptionEvent {
  awslogs: { data: string };
}

interface LogsData {
  messageType: 'DATA_MESSAGE' | 'CONTROL_MESSAGE';
  logGroup?: string;
  logStream?: string;
  logEvents?: { id: string; timestamp: number; message: string }[];
}

export interface IngestResult {
  /** serving events in the delivery (inserted, or already there) */
  events: number;
  /** lines that were not serving events (logged, not retried: they never will be) */
  skipped: number;
  /** events of the delivery already stored (a redelivery) */
  duplicates: number;
  /** INSERT statements of events made (the watermark's read and raise are not counted) */
  statements: number;
  /** events that arrived behind their deployment's watermark minus the grace (see event-log.ts) */
  late: number;
}

/**
 * Decodes one subscription delivery, inserts its serving events (`ON CONFLICT (request_id)
 * DO NOTHING`: a redelivered batch counts once) and then raises their deployments' ingest
 * watermarks, which end the canary judge's windows. A database failure throws, so Lambda
 * retries the asynchronous invocation; a line that is not a serving event is skipped and
 * logged, and so are events that arrived later than the watermark's grace allows. Each
 * delivery with events writes one EMF line (`ingestMetricsLine`: lag, events, duplicates).
 */
export const build =
  (container: () => Promise<Container>, writeMetrics: (line: string) => void = (line) => void process.stdout.write(`${line}\n`)) =>
  async (event: LogsSubscriptionEvent): Promise<IngestResult> => {
    if (typeof event?.awslogs?.data !== 'string') throw new Error('not a CloudWatch Logs subscription event (awslogs.data is missing)');
    const data = JSON.parse(gunzipSync(Buffer.from(event.awslogs.data, 'base64')).toString('utf8')) as LogsData;
    if (data.messageType !== 'DATA_MESSAGE') return { events: 0, skipped: 0, duplicates: 0, statements: 0, late: 0 };
    const c = await container();
    const r = await ingestLogLines(c.database.db, data.logEvents ?? [], {
      now: c.clock.now(),
      graceSeconds: c.config.serving.ingestGraceSeconds,
    });
    // EMF on stdout, after the insert: lag, events and duplicates of this delivery
    const metrics = ingestMetricsLine(r, c.clock.now());
    if (metrics) writeMetrics(metrics);
    if (r.skipped.length > 0)
      c.logger.warn('log lines that are not serving events were skipped', {
        logGroup: data.logGroup,
        count: r.skipped.length,
        first: r.skipped.slice(0, 5),
      });
    // the watermark rule's assumption broken: raise AEGIS_SERVING_INGEST_GRACE_SECONDS if this recurs
    if (r.late > 0)
      c.logger.warn('serving events arrived behind the ingest watermark minus the grace: a window already judged did not count them', {
        logGroup: data.logGroup,
        logStream: data.logStream,
        late: r.late,
        graceSeconds: c.config.serving.ingestGraceSeconds,
      });
    return { events: r.events, skipped: r.skipped.length, duplicates: r.events - r.inserted, statements: r.statements, late: r.late };
  };

export const handler = build(lambdaContainer);
