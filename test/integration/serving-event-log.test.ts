import { canonicalJson } from '../../lib/kernel/canonical.js';
import { latencyBucket } from '../../lib/kernel/canary-metrics.js';
import { SERVING_DIMENSION_SETS } from '../../lib/kernel/emf.js';
import {
  INGEST_MAX_BATCH_ROWS,
  LogLineEventRecorder,
  SERVING_EVENT_FILTER_PATTERN,
  ingestLogLines,
  ingestMetricsLine,
  parseServingEventLine,
  servingEventLine,
} from '../../lib/modules/serving/event-log.js';
import type { ServingEventRow } from '../../lib/modules/serving/store.js';
import { PgDatabase } from '../../lib/platform/adapters/sql/pg.js';
import { migrateToLatest } from '../../lib/platform/sql/migrations.js';
import { createTestDatabase } from '../support/postgres.js';

const row = (i: number, over: Partial<ServingEventRow> = {}): ServingEventRow => ({
  request_id: `req-${i}`,
  deployment_key: 'churn/staging',
  variant: i % 10 === 0 ? 'canary' : 'stable',
  artifact_id: 'a'.repeat(64),
  promotion_id: 'p-1',
  at: new Date(Date.UTC(2026, 10, 30, 7, 0, 0, i)),
  latency_ms: 1.5 + i,
  latency_bucket: latencyBucket(1.5 + i),
  error: false,
  cold: i === 0,
  prediction: canonicalJson([{ label: 1, probabilities: { '0': 0.2, '1': 0.8 } }]),
  ...over,
});

describe('serving event log lines', () => {
  it('round-trips an event through one JSON line, the latency bucket recomputed', () => {
    const r = row(3);
    const line = servingEventLine(r);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toMatchObject({ aegisServingEvent: 1, requestId: 'req-3', at: '2026-11-30T07:00:00.003Z' });
    expect(parseServingEventLine(line)).toEqual({ row: r });
    const failed = row(4, { error: true, prediction: null, promotion_id: null });
    expect(parseServingEventLine(servingEventLine(failed))).toEqual({ row: failed });
  });

  /** The checks CloudWatch makes of an EMF document (the specification's MUSTs), returning the metrics it would extract. */
  function emfMetrics(line: string): {
    namespace: string;
    dimensions: string[][];
    metrics: Record<string, { unit: string; value: number }>;
  } {
    const doc = JSON.parse(line) as Record<string, any>;
    const directive = doc._aws as { Timestamp: unknown; CloudWatchMetrics: Record<string, any>[] };
    expect(Number.isInteger(directive.Timestamp)).toBe(true);
    expect(directive.CloudWatchMetrics).toHaveLength(1);
    const [{ Namespace, Dimensions, Metrics }] = directive.CloudWatchMetrics as [Record<string, any>];
    expect(typeof Namespace).toBe('string');
    for (const set of Dimensions as string[][]) {
      expect(set.length).toBeGreaterThan(0);
      expect(set.length).toBeLessThanOrEqual(30);
      // every dimension names a string field of the line
      for (const d of set) expect([d, typeof doc[d]]).toEqual([d, 'string']);
    }
    const metrics: Record<string, { unit: string; value: number }> = {};
    for (const m of Metrics as { Name: string; Unit: string }[]) {
      // every metric names a numeric field of the line
      expect([m.Name, typeof doc[m.Name]]).toEqual([m.Name, 'number']);
      metrics[m.Name] = { unit: m.Unit, value: doc[m.Name] as number };
    }
    return { namespace: Namespace as string, dimensions: Dimensions as string[][], metrics };
  }

  it('is a valid CloudWatch EMF document: requests, errors and latency of the variant, by environment and by model', () => {
    const r = row(3, { deployment_key: 'fraud/v2-scorer/prod', variant: 'canary' });
    const line = servingEventLine(r);
    const doc = JSON.parse(line);
    expect(doc).toMatchObject({ Model: 'fraud/v2-scorer', Environment: 'prod', Variant: 'canary' });
    expect(doc._aws.Timestamp).toBe((r.at as Date).getTime());
    expect(emfMetrics(line)).toEqual({
      namespace: 'Aegis/Serving',
      dimensions: SERVING_DIMENSION_SETS.map((s) => [...s]),
      metrics: {
        Requests: { unit: 'Count', value: 1 },
        Errors: { unit: 'Count', value: 0 },
        LatencyMs: { unit: 'Milliseconds', value: 4.5 },
      },
    });
    // the ingest still reads it, and the subscription filter still selects it
    expect(parseServingEventLine(line)).toEqual({ row: r });
    expect(SERVING_EVENT_FILTER_PATTERN).toBe('{ $.aegisServingEvent = 1 }');
    expect(doc.aegisServingEvent).toBe(1);
  });

  it('counts a failed request as an error, and leaves a cold request out of the latency metric as the judge does', () => {
    expect(emfMetrics(servingEventLine(row(4, { error: true, prediction: null }))).metrics).toMatchObject({
      Errors: { value: 1 },
      LatencyMs: { value: 5.5 },
    });
    const cold = servingEventLine(row(0));
    expect(emfMetrics(cold).metrics).toEqual({ Requests: { unit: 'Count', value: 1 }, Errors: { unit: 'Count', value: 0 } });
    expect(JSON.parse(cold)).not.toHaveProperty('LatencyMs');
    expect(parseServingEventLine(cold)).toEqual({ row: row(0) });
  });

  it("the ingest's metrics line: lag from the delivery's oldest event, events and duplicates; none for a delivery without events", () => {
    const now = new Date(Date.UTC(2026, 10, 30, 7, 2, 30));
    const line = ingestMetricsLine({ events: 10, inserted: 7, oldestAt: new Date(Date.UTC(2026, 10, 30, 7, 0, 0)) }, now)!;
    expect(emfMetrics(line)).toEqual({
      namespace: 'Aegis/Serving',
      dimensions: [['Service']],
      metrics: {
        IngestLagSeconds: { unit: 'Seconds', value: 150 },
        IngestedEvents: { unit: 'Count', value: 10 },
        DuplicateEvents: { unit: 'Count', value: 3 },
      },
    });
    expect(JSON.parse(line)).toMatchObject({ Service: 'serving-ingest', _aws: { Timestamp: now.getTime() } });
    // an event stamped after the ingest's clock (clock skew) is no negative lag
    expect(JSON.parse(ingestMetricsLine({ events: 1, inserted: 1, oldestAt: new Date(now.getTime() + 5000) }, now)!).IngestLagSeconds).toBe(
      0,
    );
    expect(ingestMetricsLine({ events: 0, inserted: 0, oldestAt: null }, now)).toBeNull();
  });

  it("reads a line Lambda's JSON log format wrapped as a message", () => {
    const wrapped = JSON.stringify({ timestamp: '2026-11-30T07:00:00Z', level: 'INFO', message: servingEventLine(row(5)) });
    expect(parseServingEventLine(wrapped)).toEqual({ row: row(5) });
  });

  it.each([
    ['not JSON', 'START RequestId: 1', 'not JSON'],
    ['another log record', JSON.stringify({ level: 'INFO', message: 'hello' }), 'not JSON'],
    ['another version', servingEventLine(row(1)).replace('"aegisServingEvent":1', '"aegisServingEvent":2'), 'aegisServingEvent is not 1'],
    ['a bad variant', servingEventLine(row(1)).replace('"stable"', '"blue"'), 'variant'],
    ['a negative latency', servingEventLine(row(1)).replace('"latencyMs":2.5', '"latencyMs":-1'), 'latencyMs'],
    ['a bad timestamp', servingEventLine(row(1)).replace('2026-11-30T07:00:00.001Z', 'yesterday'), 'at'],
    ['no request id', servingEventLine(row(1)).replace('"requestId":"req-1"', '"requestId":""'), 'requestId'],
  ])('refuses %s, naming what is wrong', (_, line, problem) => {
    const r = parseServingEventLine(line);
    expect('problem' in r && r.problem).toMatch(new RegExp(`^${problem}`));
  });

  it('the Lambda recorder writes one line per event and buffers nothing', async () => {
    const lines: string[] = [];
    const rec = new LogLineEventRecorder((l) => lines.push(l));
    rec.add(row(1));
    rec.add(row(2));
    await rec.flush();
    expect(lines.map((l) => parseServingEventLine(l))).toEqual([{ row: row(1) }, { row: row(2) }]);
  });
});

describe('ingesting log lines (PostgreSQL)', () => {
  let db: PgDatabase | undefined;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const t = await createTestDatabase();
    if (!t) throw new Error('needs the PostgreSQL server (test/support/postgres.ts)');
    drop = t.drop;
    db = new PgDatabase(t.url);
    await migrateToLatest(db.db);
  });
  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  it('inserts in batches of at most INGEST_MAX_BATCH_ROWS, skips other lines, and counts a redelivery once', async () => {
    const n = INGEST_MAX_BATCH_ROWS * 2 + 5;
    const lines = Array.from({ length: n }, (_, i) => ({ id: `e${i}`, message: servingEventLine(row(i)) }));
    lines.splice(7, 0, { id: 'noise', message: 'END RequestId: 42' });
    const first = await ingestLogLines(db!.db, lines);
    expect(first).toEqual({
      events: n,
      inserted: n,
      skipped: [{ id: 'noise', problem: 'not JSON' }],
      statements: 3,
      oldestAt: row(0).at,
    });
    const again = await ingestLogLines(db!.db, [...lines.slice(0, 50), { id: 'new', message: servingEventLine(row(n)) }]);
    // 49 events already stored (a redelivery), one new
    expect(again).toMatchObject({ events: 50, inserted: 1 });
    const stored = await db!.db.selectFrom('serving_events').selectAll().orderBy('at').execute();
    expect(stored).toHaveLength(n + 1);
    expect(stored[0]).toMatchObject({ request_id: 'req-0', cold: true, variant: 'canary', latency_bucket: latencyBucket(1.5) });
  });
});
