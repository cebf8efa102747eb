import { Readable } from 'node:stream';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import type { ObjectInfo, ObjectStore } from '../../lib/platform/ports/object-store.js';
import { hourOfKey, InputSegments, purgeSegments, sampled, segmentHour } from '../../lib/modules/serving/segments.js';
import type { ServedRequest } from '../../lib/modules/serving/observers.js';
import { ServingTelemetry } from '../../lib/modules/serving/telemetry.js';
import type { Database } from '../../lib/platform/ports/database.js';
import type { DB } from '../../lib/platform/sql/schema.js';

/** An in-memory store of the few calls segments make. */
function memoryStore() {
  const objects = new Map<string, string>();
  const store = {
    async put(key: string, body: string) {
      objects.set(key, body);
      return { key, versionId: 'v1', size: body.length, lastModified: new Date() } as ObjectInfo;
    },
    async *list(prefix: string) {
      for (const key of [...objects.keys()].sort())
        if (key.startsWith(prefix)) yield { key, versionId: 'v1', size: 0, lastModified: new Date() } as ObjectInfo;
    },
    async delete(key: string) {
      objects.delete(key);
    },
    get: async (key: string) => Readable.from([objects.get(key)!]),
  } as unknown as ObjectStore;
  return { objects, store };
}

const served = (requestId: string, at: string, env = 'prod'): ServedRequest => ({
  modelName: 'churn',
  env,
  requestId,
  variant: 'stable',
  artifactId: 'a1',
  at: new Date(at),
  latencyMs: 3,
  cold: false,
  inputs: [[1, 2]],
  predictions: [{ label: '1' }],
});

describe('input segment sampling', () => {
  it('is deterministic by request id and close to the rate', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => `req-${i}`);
    const share = ids.filter((id) => sampled(id, 0.25)).length / ids.length;
    expect(Math.abs(share - 0.25)).toBeLessThan(0.015);
    expect(ids.filter((id) => sampled(id, 0.25))).toEqual(ids.filter((id) => sampled(id, 0.25)));
    expect(ids.every((id) => sampled(id, 1))).toBe(true);
    expect(ids.some((id) => sampled(id, 0))).toBe(false);
    // a request sampled at a rate stays sampled at any higher rate
    expect(ids.filter((id) => sampled(id, 0.1) && !sampled(id, 0.3))).toEqual([]);
  });
});

describe('input segments', () => {
  it('names keys by deployment and UTC hour, and parses the hour back', () => {
    expect(segmentHour(new Date('2026-03-04T05:59:59.999Z'))).toEqual({ day: '2026-03-04', hour: '05' });
    expect(hourOfKey('serving-inputs/churn/prod/2026-03-04/05/20260304T060000Z-0a1b2c3d4e5f.jsonl')).toEqual(
      new Date('2026-03-04T05:00:00Z'),
    );
    expect(hourOfKey('artifacts/churn/1/artifact')).toBeUndefined();
  });

  it('buffers per deployment and hour, writes a segment at maxRows and on flush, one JSON line per request', async () => {
    const { objects, store } = memoryStore();
    const segs = new InputSegments(
      store,
      { sampleRate: 1, maxRows: 2, intervalMs: 60_000, onError: () => undefined },
      () => new Date('2026-03-04T07:00:00Z'),
    );
    segs.served(served('r1', '2026-03-04T05:10:00Z'));
    segs.served(served('r2', '2026-03-04T06:10:00Z'));
    segs.served(served('r3', '2026-03-04T05:20:00Z', 'staging'));
    segs.served(served('r4', '2026-03-04T05:30:00Z'));
    await segs.flush();
    const keys = [...objects.keys()].sort();
    expect(keys.map((k) => k.split('/').slice(0, 5).join('/'))).toEqual([
      'serving-inputs/churn/prod/2026-03-04/05',
      'serving-inputs/churn/prod/2026-03-04/06',
      'serving-inputs/churn/staging/2026-03-04/05',
    ]);
    const lines = objects
      .get(keys[0]!)!
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.requestId)).toEqual(['r1', 'r4']);
    expect(lines[0]).toEqual({
      requestId: 'r1',
      at: '2026-03-04T05:10:00.000Z',
      variant: 'stable',
      artifactId: 'a1',
      latencyMs: 3,
      error: false,
      inputs: [[1, 2]],
      predictions: [{ label: '1' }],
    });
  });

  it('writes at the end of an invocation only the segments whose first line is an interval old', async () => {
    const { objects, store } = memoryStore();
    let now = new Date('2026-03-04T07:00:00Z');
    const segs = new InputSegments(store, { sampleRate: 1, intervalMs: 10_000, onError: () => undefined }, () => now);
    segs.served(served('r1', '2026-03-04T07:00:00Z'));
    now = new Date('2026-03-04T07:00:06Z');
    segs.served(served('r2', '2026-03-04T07:00:06Z', 'staging'));
    await segs.flushDue();
    expect(objects.size).toBe(0);
    now = new Date('2026-03-04T07:00:10Z');
    segs.served(served('r3', '2026-03-04T07:00:10Z'));
    await segs.flushDue();
    // prod's first line is 10 s old: written with the line that came since; staging's (4 s) waits
    expect([...objects.keys()].map((k) => k.split('/').slice(0, 3).join('/'))).toEqual(['serving-inputs/churn/prod']);
    expect(
      [...objects.values()][0]!
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).requestId),
    ).toEqual(['r1', 'r3']);
    now = new Date('2026-03-04T07:00:16Z');
    await segs.flushDue();
    expect(objects.size).toBe(2);
  });

  it('purges only the hours that ended before the horizon', async () => {
    const { objects, store } = memoryStore();
    for (const k of ['2026-03-01/05', '2026-03-01/06', '2026-03-02/00'])
      objects.set(`serving-inputs/churn/prod/${k}/20260301T000000Z-000000000000.jsonl`, '{}\n');
    objects.set('serving-inputs/not-a-segment.txt', 'x');
    expect(await purgeSegments(store, new Date('2026-03-01T07:00:00Z'))).toBe(2);
    expect([...objects.keys()].sort()).toEqual([
      'serving-inputs/churn/prod/2026-03-02/00/20260301T000000Z-000000000000.jsonl',
      'serving-inputs/not-a-segment.txt',
    ]);
  });
});

describe('serving retention (ServingTelemetry.purge)', () => {
  /** A database that records the SQL it is given and deletes nothing (Kysely's dummy driver). */
  function recordingDatabase() {
    const statements: string[] = [];
    const db = new Kysely<DB>({
      dialect: {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => new DummyDriver(),
        createIntrospector: (k) => new PostgresIntrospector(k),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      },
      log: (e) => {
        if (e.level === 'query') statements.push(e.query.sql);
      },
    });
    return { statements, database: { db } as unknown as Database };
  }
  const routes = () => Promise.reject(new Error('not read by purge'));
  const metrics = {
    window: () => Promise.reject(new Error('not read by purge')),
    settledUntil: () => Promise.reject(new Error('not read by purge')),
    agreement: () => Promise.reject(new Error('not read by purge')),
  };
  const clock = { now: () => new Date('2026-03-15T07:00:00Z') };

  it('deletes the events and labels past the horizon and the input segments of the hours that ended before it (the local data folder)', async () => {
    const { statements, database } = recordingDatabase();
    const { objects, store } = memoryStore();
    objects.set('serving-inputs/churn/prod/2026-03-01/05/20260301T050000Z-000000000000.jsonl', '{}\n');
    objects.set('serving-inputs/churn/prod/2026-03-01/07/20260301T070000Z-000000000000.jsonl', '{}\n');
    const telemetry = new ServingTelemetry({ database, clock, metrics, routes, driftStore: store, retentionDays: 14 });
    expect(await telemetry.purge()).toEqual({
      before: '2026-03-01T07:00:00.000Z',
      events: 0,
      labels: 0,
      segments: 1,
      segmentExpiry: 'job',
    });
    // a batch at a time (the dummy driver deletes nothing, so one statement each)
    expect(statements).toEqual([
      'delete from "serving_events" where "request_id" in (select "request_id" from "serving_events" where "at" < $1 limit $2)',
      'delete from "serving_labels" where ("deployment_key", "request_id") in (select "deployment_key", "request_id" from "serving_labels" where "received_at" < $1 limit $2)',
    ]);
    expect([...objects.keys()]).toEqual(['serving-inputs/churn/prod/2026-03-01/07/20260301T070000Z-000000000000.jsonl']);
  });

  it('leaves the drift store alone where its lifecycle rule expires segments (AWS): no list, no delete, the rows still go', async () => {
    const { statements, database } = recordingDatabase();
    const untouchable = {
      list: () => {
        throw new Error('listed the drift store');
      },
      delete: () => Promise.reject(new Error('deleted from the drift store')),
    } as unknown as ObjectStore;
    const telemetry = new ServingTelemetry({
      database,
      clock,
      metrics,
      routes,
      driftStore: untouchable,
      segmentExpiry: 'lifecycle',
      retentionDays: 14,
    });
    expect(await telemetry.purge()).toEqual({
      before: '2026-03-01T07:00:00.000Z',
      events: 0,
      labels: 0,
      segments: 0,
      segmentExpiry: 'lifecycle',
    });
    expect(statements).toHaveLength(2);
  });
});
