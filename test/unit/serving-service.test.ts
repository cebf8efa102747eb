/**
 * ServingService with fake ports over a real (in-memory PGlite) serving schema: model
 * exceptions and timeouts are errors of the variant that served, a refused canary falls back
 * to the stable, a refusal is audited once, and the first request to a model is cold.
 */
import { Readable } from 'node:stream';
import { sql } from 'kysely';
import { canonicalJson, sha256Hex } from '../../lib/kernel/canonical.js';
import { PgliteDatabase } from '../../lib/platform/adapters/sql/pglite.js';
import { migrateToLatest } from '../../lib/platform/sql/migrations.js';
import type { AuditLog } from '../../lib/platform/audit/log.js';
import type { ModelRuntime } from '../../lib/platform/ports/model-runtime.js';
import type { ObjectStore } from '../../lib/platform/ports/object-store.js';
import { ServingService, type ServingRoute } from '../../lib/modules/serving/service.js';
import type { ArtifactRecord } from '../../lib/modules/registry/service.js';
import type { ServingEventRecorder } from '../../lib/modules/serving/event-sink.js';
import { LogLineEventRecorder } from '../../lib/modules/serving/event-log.js';
import { ingestLogLines } from '../../lib/modules/serving/ingest.js';
import { tarGz } from '../support/tar.js';

let db: PgliteDatabase;
beforeAll(async () => {
  db = await PgliteDatabase.open();
  await migrateToLatest(db.db);
  // the fake registry has no artifacts rows for serving_deployments to reference
  await sql`alter table serving_deployments drop constraint serving_deployments_artifact_id_fkey`.execute(db.db);
}, 60_000);
afterAll(async () => {
  await db?.close();
});

/** A fake runtime: `fake.json` says how its model behaves. */
const fakeRuntime: ModelRuntime = {
  format: 'fake',
  accepts: (files) => files.has('fake.json'),
  load: async (files) => {
    const how = JSON.parse(Buffer.from(files.get('fake.json')!).toString()) as { behave: 'ok' | 'throw' | 'hang' };
    return {
      format: 'fake',
      features: ['x'],
      predict: (rows) =>
        how.behave === 'ok'
          ? Promise.resolve(rows.map(() => ({ label: 'yes' })))
          : how.behave === 'throw'
            ? Promise.reject(new Error('boom'))
            : new Promise(() => undefined),
      close: async () => undefined,
    };
  },
};

function world(artifacts: Record<string, Buffer>, sizes: Record<string, number> = {}) {
  const manifest = { artifactId: 'x' };
  const records = new Map<string, ArtifactRecord>();
  for (const [id, bytes] of Object.entries(artifacts))
    records.set(id, {
      artifactId: id,
      modelName: 'm',
      version: 1,
      sha256: sha256Hex(bytes),
      size: sizes[id] ?? bytes.length,
      storage: { key: `a/${id}`, versionId: 'v1', manifestKey: `m/${id}`, signatureKey: `s/${id}` },
      manifest: manifest as never,
      manifestSha256: sha256Hex(canonicalJson(manifest)),
      signature: { manifestSignatureId: `sig-${id}`, signerId: 'k', alg: 'ed25519', signature: 'x', ts: '2026-01-01T00:00:00Z' } as never,
      createdBy: 't',
      createdAt: '2026-01-01T00:00:00Z',
    });
  const reads: string[] = [];
  const store = {
    get: async (key: string) =>
      reads.push(key) && Readable.from([key.startsWith('m/') ? Buffer.from(`${canonicalJson(manifest)}\n`) : artifacts[key.slice(2)]!]),
  } as unknown as ObjectStore;
  const appended: { type: string; payload: Record<string, unknown> }[] = [];
  const audit = {
    append: async (_tx: unknown, e: { type: string; payload: Record<string, unknown> }) => appended.push(e),
  } as unknown as AuditLog;
  return { records, store, audit, appended, reads };
}

async function service(
  artifacts: Record<string, Buffer>,
  route: ServingRoute,
  sizes: Record<string, number> = {},
  quarantined: Set<string> = new Set(),
  clock: { now(): Date } = { now: () => new Date() },
  events?: ServingEventRecorder,
) {
  const w = world(artifacts, sizes);
  let t = 0;
  const s = new ServingService({
    database: db,
    audit: w.audit,
    clock,
    store: w.store,
    registry: { get: async (id: string) => w.records.get(id) },
    verification: { validateArtifact: async () => ({ ok: true, artifactId: null, signerId: null, checks: [] }) },
    runtimes: [fakeRuntime],
    routes: async () => route,
    quarantine: { stateOf: async (id: string) => (quarantined.has(id) ? ({ reason: 'leaked training data' } as never) : null) },
    logger: { error: () => undefined },
    options: { routeCacheSeconds: 5, timeoutMs: 50 },
    monotonic: () => (t += 1),
    ...(events && { events }),
  });
  return { s, appended: w.appended, reads: w.reads };
}

const win = (s: ServingService, variant: 'stable' | 'canary', artifactId: string) =>
  s.metrics.window('m/prod', variant, artifactId, new Date(0), new Date(Date.now() + 60_000));

it('counts a model exception and a timeout as errors of the variant, answering 500 MODEL_ERROR and 504 PREDICTION_TIMEOUT', async () => {
  const route = { modelName: 'm', env: 'prod', stable: 'boom', canary: null, percent: 0, promotionId: 'p1' };
  const { s } = await service({ boom: await tarGz({ 'fake.json': '{"behave":"throw"}' }) }, route);
  await expect(s.predict({ modelName: 'm', env: 'prod', requestId: 'r1', inputs: [[1]] })).rejects.toMatchObject({
    code: 'MODEL_ERROR',
    status: 500,
  });
  await expect(s.predict({ modelName: 'm', env: 'prod', requestId: 'r2', inputs: [[1]] })).rejects.toMatchObject({ code: 'MODEL_ERROR' });
  expect(await win(s, 'stable', 'boom')).toMatchObject({ requests: 2, errors: 2 });

  const hang = await service({ hang: await tarGz({ 'fake.json': '{"behave":"hang"}' }) }, { ...route, stable: 'hang', promotionId: 'p2' });
  await expect(hang.s.predict({ modelName: 'm', env: 'prod', requestId: 'r3', inputs: [[1]] })).rejects.toMatchObject({
    code: 'PREDICTION_TIMEOUT',
    status: 504,
  });
  expect(await win(hang.s, 'stable', 'hang')).toMatchObject({ requests: 1, errors: 1 });
});

it('says its events are complete up to now where it inserts them itself, and up to the ingest watermark minus the grace where they go to logs', async () => {
  const route = { modelName: 'm', env: 'prod', stable: 'ok', canary: null, percent: 0, promotionId: 'p9' };
  const ok = await tarGz({ 'fake.json': '{"behave":"ok"}' });
  const stored = async (requestId: string) =>
    (await db.db.selectFrom('serving_events').select('request_id').where('request_id', '=', requestId).execute()).length;
  const direct = await service({ ok }, route);
  await direct.s.predict({ modelName: 'm', env: 'prod', requestId: 'settled-1', inputs: [[1]] });
  const now = new Date();
  expect(await direct.s.metrics.settledUntil('m/prod', now)).toEqual(now);
  expect(await stored('settled-1')).toBe(1); // flushed before answering

  const lines: { id: string; message: string }[] = [];
  const logged = await service(
    { ok },
    route,
    {},
    new Set(),
    undefined,
    new LogLineEventRecorder({ database: db, graceSeconds: 10 }, (l) => lines.push({ id: `${lines.length}`, message: l })),
  );
  await logged.s.predict({ modelName: 'm', env: 'prod', requestId: 'settled-2', inputs: [[1]] });
  expect(await logged.s.metrics.settledUntil('m/prod', now)).toEqual(new Date(0)); // nothing ingested yet
  expect(await stored('settled-2')).toBe(0);
  const later = new Date(now.getTime() + 60_000);
  await ingestLogLines(db.db, lines, { now: later, graceSeconds: 10 });
  const at = new Date(JSON.parse(lines[0]!.message).at as string);
  expect(await logged.s.metrics.settledUntil('m/prod', later)).toEqual(new Date(at.getTime() - 10_000));
});

it('sends a refused canary share to the stable, audits the refusal once, and marks only the first request cold', async () => {
  const route = { modelName: 'm', env: 'prod', stable: 'good', canary: 'bad', percent: 100, promotionId: 'p3' };
  const { s, appended } = await service(
    { good: await tarGz({ 'fake.json': '{"behave":"ok"}' }), bad: await tarGz({ 'model.pkl': 'x' }) },
    route,
  );
  for (const requestId of ['c1', 'c2', 'c3']) {
    const r = await s.predict({ modelName: 'm', env: 'prod', requestId, inputs: [[1]] });
    expect(r).toMatchObject({ variant: 'stable', artifactId: 'good', manifestSignatureId: 'sig-good' });
  }
  expect(appended.filter((e) => e.type === 'serving.refused').map((e) => e.payload)).toEqual([
    expect.objectContaining({ artifactId: 'bad', variant: 'canary', code: 'UNSUPPORTED_FORMAT' }),
  ]);
  expect(appended.filter((e) => e.type === 'serving.verified')).toHaveLength(1);
  // the cold request is counted but not in the latency histogram
  const m = await win(s, 'stable', 'good');
  expect(m.requests).toBe(3);
  expect(m.latencyHistogram!.reduce((n, [, c]) => n + c, 0)).toBe(2);
  // reading the metrics wrote the buffered events first
  const rows = await db.db
    .selectFrom('serving_events')
    .select(['request_id', 'cold', 'variant'])
    .where('request_id', 'in', ['c1', 'c2', 'c3'])
    .orderBy('request_id')
    .execute();
  expect(rows).toEqual([
    { request_id: 'c1', cold: true, variant: 'stable' },
    { request_id: 'c2', cold: false, variant: 'stable' },
    { request_id: 'c3', cold: false, variant: 'stable' },
  ]);
});

it('test-loads at promote time only what a promote handler may hold: a larger artifact is reported unchecked, never read', async () => {
  const route = { modelName: 'm', env: 'prod', stable: null, canary: null, percent: 0, promotionId: null } as unknown as ServingRoute;
  const artifacts = { good: await tarGz({ 'fake.json': '{"behave":"ok"}' }), pickled: await tarGz({ 'model.pkl': 'x' }) };
  const { s, reads } = await service({ ...artifacts, big: artifacts.pickled }, route, { big: 65 * 1024 ** 2 });
  expect(await s.servable('good')).toBeNull();
  expect(await s.servable('pickled')).toMatchObject({ code: 'UNSUPPORTED_FORMAT' });
  const before = reads.length;
  expect(await s.servable('big')).toEqual({ unchecked: expect.stringMatching(/not test-loaded at promote time \(68157440 bytes/) });
  expect(reads.length).toBe(before);
});

it('refuses a quarantined artifact at the next route read, and serves it again (verified anew) once released', async () => {
  const route = { modelName: 'm', env: 'prod', stable: 'good', canary: null, percent: 0, promotionId: 'p9' };
  const quarantined = new Set<string>();
  let at = Date.parse('2026-11-30T08:00:00Z');
  const clock = { now: () => new Date(at) };
  const { s, appended } = await service({ good: await tarGz({ 'fake.json': '{"behave":"ok"}' }) }, route, {}, quarantined, clock);
  const ask = (requestId: string) => s.predict({ modelName: 'm', env: 'prod', requestId, inputs: [[1]] });
  expect(await ask('q1')).toMatchObject({ artifactId: 'good' });
  quarantined.add('good');
  expect(await ask('q2')).toMatchObject({ artifactId: 'good' }); // the route read 5 s ago still stands
  at += 5_000;
  await expect(ask('q3')).rejects.toMatchObject({
    code: 'ARTIFACT_UNVERIFIED',
    message: expect.stringMatching(/quarantined: leaked training data/),
  });
  quarantined.delete('good');
  await expect(ask('q4')).rejects.toMatchObject({ code: 'ARTIFACT_UNVERIFIED' }); // until the next route read
  at += 5_000;
  expect(await ask('q5')).toMatchObject({ artifactId: 'good' });
  // the quarantine refusal was audited once, while it was in force
  expect(appended.filter((e) => e.type === 'serving.refused')).toHaveLength(1);
});
