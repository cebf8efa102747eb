import { canonicalJson } from '../../lib/kernel/canonical.js';
import { latencyBucket } from '../../lib/kernel/canary-metrics.js';
import { SERVING_DIMENSION_SETS } from '../../lib/kernel/emf.js';
import {
  LogLineEventRecorder,
  SERVING_EVENT_FILTER_PATTERN,
  parseServingEventLine,
  servingEventLine,
  settledUntil,
} from '../../lib/modules/serving/event-log.js';
import { INGEST_MAX_BATCH_ROWS, ingestLogLines, ingestMetricsLine } from '../../lib/modules/serving/ingest.js';
import { purgeBefore, type ServingEventRow } from '../../lib/modules/serving/store.js';
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
    const noDatabase = { db: undefined as never };
    const rec = new LogLineEventRecorder({ database: noDatabase, graceSeconds: 10 }, (l) => lines.push(l));
    rec.add(row(1));
    rec.add(row(2));
    await rec.flush();
    expect(lines.map((l) => parseServingEventLine(l))).toEqual([{ row: row(1) }, { row: row(2) }]);
  });
});

describe('the settled end of ingested events', () => {
  const now = new Date('2026-11-30T08:00:00.000Z');
  it('is the watermark minus the grace, never after now, and the epoch when nothing was ingested', () => {
    expect(settledUntil(new Date('2026-11-30T07:59:30.000Z'), 10, now)).toEqual(new Date('2026-11-30T07:59:20.000Z'));
    expect(settledUntil(new Date('2026-11-30T07:59:55.000Z'), 0, now)).toEqual(new Date('2026-11-30T07:59:55.000Z'));
    expect(settledUntil(new Date('2026-11-30T08:00:30.000Z'), 10, now)).toEqual(now);
    expect(settledUntil(undefined, 10, now)).toEqual(new Date(0));
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
  const opts = { now: new Date('2026-11-30T08:00:00.000Z'), graceSeconds: 10 };
  const marks = async () =>
    Object.fromEntries(
      (await db!.db.selectFrom('serving_ingest_watermarks').select(['deployment_key', 'event_at']).execute()).map((r) => [
        r.deployment_key,
        new Date(r.event_at).toISOString(),
      ]),
    );
  const lineOf = (i: number, over: Partial<ServingEventRow> = {}) => ({ id: `w${i}`, message: servingEventLine(row(i, over)) });
  const atSecond = (s: number) => new Date(Date.UTC(2026, 10, 30, 7, 30, s));

  it('inserts in batches of at most INGEST_MAX_BATCH_ROWS, skips other lines, and counts a redelivery once', async () => {
    const n = INGEST_MAX_BATCH_ROWS * 2 + 5;
    const lines = Array.from({ length: n }, (_, i) => ({ id: `e${i}`, message: servingEventLine(row(i)) }));
    lines.splice(7, 0, { id: 'noise', message: 'END RequestId: 42' });
    const first = await ingestLogLines(db!.db, lines, opts);
    expect(first).toEqual({
      events: n,
      inserted: n,
      skipped: [{ id: 'noise', problem: 'not JSON' }],
      statements: 3,
      oldestAt: row(0).at,
      late: 0,
    });
    const again = await ingestLogLines(db!.db, [...lines.slice(0, 50), { id: 'new', message: servingEventLine(row(n)) }], opts);
    // 49 events already stored (a redelivery), one new
    expect(again).toMatchObject({ events: 50, inserted: 1 });
    const stored = await db!.db.selectFrom('serving_events').selectAll().orderBy('at').execute();
    expect(stored).toHaveLength(n + 1);
    expect(stored[0]).toMatchObject({ request_id: 'req-0', cold: true, variant: 'canary', latency_bucket: latencyBucket(1.5) });
  });

  it("raises each deployment's watermark to the latest event time it inserted: never lowered, a replay changes nothing", async () => {
    const key = 'wm/prod';
    const batch = [lineOf(1000, { deployment_key: key, at: atSecond(20) }), lineOf(1001, { deployment_key: key, at: atSecond(30) })];
    const other = lineOf(1002, { deployment_key: 'wm/staging', at: atSecond(5) });
    expect(await ingestLogLines(db!.db, [...batch, other], opts)).toMatchObject({ events: 3, late: 0 });
    expect(await marks()).toMatchObject({ [key]: atSecond(30).toISOString(), 'wm/staging': atSecond(5).toISOString() });
    // a delivery of an older stream, later: its events are inserted, the watermark stays
    const older = [lineOf(1003, { deployment_key: key, at: atSecond(25) })];
    expect(await ingestLogLines(db!.db, older, opts)).toMatchObject({ events: 1, late: 0 });
    expect((await marks())[key]).toBe(atSecond(30).toISOString());
    // the same delivery again: same rows, same watermark
    await ingestLogLines(db!.db, [...batch, other], opts);
    expect((await marks())[key]).toBe(atSecond(30).toISOString());
    const stored = await db!.db.selectFrom('serving_events').select('request_id').where('deployment_key', '=', key).execute();
    expect(stored.map((r) => r.request_id).sort()).toEqual(['req-1000', 'req-1001', 'req-1003']);
    // a later delivery raises it
    await ingestLogLines(db!.db, [lineOf(1004, { deployment_key: key, at: atSecond(40) })], opts);
    expect((await marks())[key]).toBe(atSecond(40).toISOString());
  });

  it('counts events that arrive behind the watermark minus the grace as late (still inserted)', async () => {
    const key = 'wm-late/prod';
    await ingestLogLines(db!.db, [lineOf(1100, { deployment_key: key, at: atSecond(50) })], opts);
    // grace 10 s: 41 s is within it, 39 s is behind what the judge may already have ended a window at
    const r = await ingestLogLines(
      db!.db,
      [lineOf(1101, { deployment_key: key, at: atSecond(41) }), lineOf(1102, { deployment_key: key, at: atSecond(39) })],
      opts,
    );
    expect(r).toMatchObject({ events: 2, late: 1 });
    expect(await db!.db.selectFrom('serving_events').select('request_id').where('deployment_key', '=', key).execute()).toHaveLength(3);
    expect((await marks())[key]).toBe(atSecond(50).toISOString());
    // a redelivery of what arrived in time, after the watermark moved on, is not late: it was counted
    await ingestLogLines(db!.db, [lineOf(1103, { deployment_key: key, at: atSecond(59) })], opts);
    expect(await ingestLogLines(db!.db, [lineOf(1101, { deployment_key: key, at: atSecond(41) })], opts)).toMatchObject({ late: 0 });
  });

  it('caps the watermark at the ingest clock, and lines that are not serving events move nothing', async () => {
    const key = 'wm-future/prod';
    await ingestLogLines(db!.db, [lineOf(1200, { deployment_key: key, at: new Date('2026-11-30T09:00:00.000Z') })], opts);
    expect((await marks())[key]).toBe(opts.now.toISOString());
    const before = await marks();
    const bad = servingEventLine(row(1201, { deployment_key: 'wm-bad/prod', at: atSecond(59) })).replace('"stable"', '"blue"');
    const r = await ingestLogLines(
      db!.db,
      [
        { id: 'b', message: bad },
        { id: 'n', message: 'REPORT RequestId: 1' },
      ],
      opts,
    );
    expect(r).toEqual({
      events: 0,
      inserted: 0,
      oldestAt: null,
      skipped: [expect.objectContaining({ id: 'b' }), { id: 'n', problem: 'not JSON' }],
      statements: 0,
      late: 0,
    });
    expect(await marks()).toEqual(before);
  });

  it('the Lambda recorder reads how far its events are complete from the watermark', async () => {
    const key = 'wm-read/prod';
    const rec = new LogLineEventRecorder({ database: db!, graceSeconds: 10 }, () => undefined);
    expect(await rec.settledUntil(key, opts.now)).toEqual(new Date(0));
    await ingestLogLines(db!.db, [lineOf(1300, { deployment_key: key, at: atSecond(45) })], opts);
    expect(await rec.settledUntil(key, opts.now)).toEqual(atSecond(35));
    expect(await rec.settledUntil(key, atSecond(30))).toEqual(atSecond(30));
  });

  it('purges events and labels before the horizon a batch at a time, keeping the newer ones', async () => {
    const key = 'purge/prod';
    const old = new Date('2020-01-01T00:00:00.000Z');
    const rows = Array.from({ length: 12 }, (_, i) => lineOf(1400 + i, { deployment_key: key, at: i < 10 ? old : opts.now }));
    await ingestLogLines(db!.db, rows, opts);
    await db!.db
      .insertInto('serving_labels')
      .values(
        Array.from({ length: 12 }, (_, i) => ({
          deployment_key: key,
          request_id: `req-${1400 + i}`,
          label: '1',
          received_at: i < 7 ? old : opts.now,
        })),
      )
      .execute();
    const before = new Date('2021-01-01T00:00:00.000Z');
    // 3 rows a statement: 10 old events in four deletes, 7 old labels in three
    expect(await purgeBefore(db!.db, before, 3)).toEqual({ events: 10, labels: 7 });
    const left = await db!.db.selectFrom('serving_events').select('request_id').where('deployment_key', '=', key).execute();
    expect(left.map((r) => r.request_id).sort()).toEqual(['req-1410', 'req-1411']);
    const labels = await db!.db.selectFrom('serving_labels').select('request_id').where('deployment_key', '=', key).execute();
    expect(labels).toHaveLength(5);
    expect(await purgeBefore(db!.db, before, 3)).toEqual({ events: 0, labels: 0 });
  });
});
