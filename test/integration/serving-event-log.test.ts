import { canonicalJson } from '../../lib/kernel/canonical.js';
import { latencyBucket } from '../../lib/kernel/canary-metrics.js';
import {
  INGEST_MAX_BATCH_ROWS,
  LogLineEventRecorder,
  ingestLogLines,
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
    expect(first).toEqual({ events: n, skipped: [{ id: 'noise', problem: 'not JSON' }], statements: 3 });
    const again = await ingestLogLines(db!.db, lines.slice(0, 50));
    expect(again.events).toBe(49);
    const stored = await db!.db.selectFrom('serving_events').selectAll().orderBy('at').execute();
    expect(stored).toHaveLength(n);
    expect(stored[0]).toMatchObject({ request_id: 'req-0', cold: true, variant: 'canary', latency_bucket: latencyBucket(1.5) });
  });
});
