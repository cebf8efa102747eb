/**
 * Shadow mirroring, agreement and warm-up of ServingService with fake ports over a real
 * (in-memory PGlite) serving schema: the Lambda mode's budget (a slow shadow is a shadow
 * error, the caller waits at most the budget), the after-response mode (nothing of the shadow
 * runs before the deferral), shadow event lines through the ingest, the recorded source's
 * agreement, and warm-up loads counted.
 */
import { Readable } from 'node:stream';
import { sql } from 'kysely';
import { canonicalJson, sha256Hex } from '../../lib/kernel/canonical.js';
import { PgliteDatabase } from '../../lib/platform/adapters/sql/pglite.js';
import { RecordedMetricsSource } from '../../lib/platform/adapters/canary-metrics/recorded.js';
import { migrateToLatest } from '../../lib/platform/sql/migrations.js';
import type { AuditLog } from '../../lib/platform/audit/log.js';
import type { ModelRuntime } from '../../lib/platform/ports/model-runtime.js';
import type { ObjectStore } from '../../lib/platform/ports/object-store.js';
import { ServingService, type ServingRoute, type ShadowMode } from '../../lib/modules/serving/service.js';
import type { ArtifactRecord } from '../../lib/modules/registry/service.js';
import { mirrored, chooseVariant } from '../../lib/modules/serving/domain.js';
import { LogLineEventRecorder } from '../../lib/modules/serving/event-log.js';
import type { ServingEventRecorder } from '../../lib/modules/serving/event-sink.js';
import { ingestLogLines } from '../../lib/modules/serving/ingest.js';
import { tarGz } from '../support/tar.js';

let db: PgliteDatabase;
beforeAll(async () => {
  db = await PgliteDatabase.open();
  await migrateToLatest(db.db);
  await sql`alter table serving_deployments drop constraint serving_deployments_artifact_id_fkey`.execute(db.db);
}, 60_000);
afterAll(async () => {
  await db?.close();
});

/** `fake.json`: the label it answers, and how long it takes (ms). */
const fakeRuntime: ModelRuntime = {
  format: 'fake',
  accepts: (files) => files.has('fake.json'),
  load: async (files) => {
    const how = JSON.parse(Buffer.from(files.get('fake.json')!).toString()) as {
      label: string;
      p?: number;
      delayMs?: number;
      loadMs?: number;
      features?: string[];
    };
    if (how.loadMs) await new Promise((r) => setTimeout(r, how.loadMs));
    return {
      format: 'fake',
      features: how.features ?? ['x'],
      predict: async (rows) => {
        if (how.delayMs) await new Promise((r) => setTimeout(r, how.delayMs));
        return rows.map(() => ({ label: how.label, ...(how.p !== undefined && { probabilities: { [how.label]: how.p } }) }));
      },
      close: async () => undefined,
    };
  },
};
const fake = (how: Record<string, unknown>) => tarGz({ 'fake.json': JSON.stringify(how) });

function service(artifacts: Record<string, Buffer>, route: () => ServingRoute, shadow: ShadowMode, events?: ServingEventRecorder) {
  const manifest = { artifactId: 'x' };
  const records = new Map<string, ArtifactRecord>();
  for (const [id, bytes] of Object.entries(artifacts))
    records.set(id, {
      artifactId: id,
      modelName: 'm',
      sha256: sha256Hex(bytes),
      size: bytes.length,
      storage: { key: `a/${id}`, versionId: 'v1', manifestKey: `m/${id}`, signatureKey: `s/${id}` },
      manifestSha256: sha256Hex(canonicalJson(manifest)),
      signature: { manifestSignatureId: `sig-${id}` },
    } as never);
  const store = {
    get: async (key: string) =>
      Readable.from([key.startsWith('m/') ? Buffer.from(`${canonicalJson(manifest)}\n`) : artifacts[key.slice(2)]!]),
  } as unknown as ObjectStore;
  const audited: { type: string; payload: Record<string, unknown> }[] = [];
  const errors: Record<string, unknown>[] = [];
  const s = new ServingService({
    database: db,
    audit: { append: async (_tx: unknown, e: (typeof audited)[number]) => audited.push(e) } as unknown as AuditLog,
    clock: { now: () => new Date() },
    store,
    registry: { get: async (id: string) => records.get(id) },
    verification: { validateArtifact: async () => ({ ok: true, artifactId: null, signerId: null, checks: [] }) },
    runtimes: [fakeRuntime],
    routes: async () => route(),
    quarantine: { stateOf: async () => null },
    logger: { error: (_m: string, ...extra: Record<string, unknown>[]) => void errors.push(...extra) },
    options: { routeCacheSeconds: 0, timeoutMs: 2_000, shadow },
    ...(events && { events }),
  });
  return { s, audited, errors };
}

const shadowRows = (promotionId: string) =>
  db.db
    .selectFrom('serving_events')
    .selectAll()
    .where('promotion_id', '=', promotionId)
    .where('variant', '=', 'shadow')
    .orderBy('request_id')
    .execute();

it('Lambda mode: a shadow slower than its budget is a shadow error, and the caller waits at most the budget', async () => {
  const route = {
    modelName: 'm',
    env: 'prod',
    stable: 'st',
    canary: null,
    percent: 0,
    promotionId: 'pb1',
    shadow: 'slow',
    shadowPercent: 100,
  };
  const { s, errors } = service({ st: await fake({ label: 'a' }), slow: await fake({ label: 'b', delayMs: 600 }) }, () => route, {
    kind: 'parallel',
    budgetMs: 40,
  });
  await s.predict({ modelName: 'm', env: 'prod', requestId: 'warm-both', inputs: [[1]] }); // loads both models
  const t0 = performance.now();
  const r = await s.predict({ modelName: 'm', env: 'prod', requestId: 'budget-1', inputs: [[1]] });
  const took = performance.now() - t0;
  expect(r).toMatchObject({ variant: 'stable', artifactId: 'st', predictions: [{ label: 'a' }] });
  expect(took).toBeGreaterThanOrEqual(35);
  expect(took).toBeLessThan(400); // far below the shadow's 600 ms
  await s.flush();
  const rows = await shadowRows('pb1');
  expect(rows.find((e) => e.request_id === 'budget-1')).toMatchObject({ artifact_id: 'slow', error: true, prediction: null, cold: false });
  expect(errors).toContainEqual(
    expect.objectContaining({ requestId: 'budget-1', reason: expect.stringMatching(/within its budget of 40 ms/) }),
  );
  // the stable's own latency does not include the wait for the shadow
  const stable = await db.db
    .selectFrom('serving_events')
    .selectAll()
    .where('request_id', '=', 'budget-1')
    .where('variant', '=', 'stable')
    .executeTakeFirstOrThrow();
  expect(stable.latency_ms).toBeLessThan(30);
  await s.close();
});

it('Lambda mode: a shadow still loading its model at the budget mirrors nothing (a cold instance is no error of the candidate); the next requests are', async () => {
  const route = {
    modelName: 'm',
    env: 'prod',
    stable: 'st',
    canary: null,
    percent: 0,
    promotionId: 'pb-cold',
    shadow: 'heavy',
    shadowPercent: 100,
  };
  const { s } = service({ st: await fake({ label: 'a' }), heavy: await fake({ label: 'a', loadMs: 300 }) }, () => route, {
    kind: 'parallel',
    budgetMs: 40,
  });
  await s.predict({ modelName: 'm', env: 'prod', requestId: 'cold-1', inputs: [[1]] });
  // the load goes on beyond the budget: once it is done, the next request is mirrored
  await new Promise((r) => setTimeout(r, 500));
  await s.predict({ modelName: 'm', env: 'prod', requestId: 'cold-2', inputs: [[1]] });
  await s.flush();
  const rows = await shadowRows('pb-cold');
  expect(rows.map((e) => [e.request_id, e.error])).toEqual([['cold-2', false]]);
  await s.close();
});

it('Lambda mode: a shadow within its budget is recorded with its answer, and agreement compares it with the stable answer', async () => {
  let route = {
    modelName: 'm',
    env: 'prod',
    stable: 'st',
    canary: null,
    percent: 0,
    promotionId: 'pb2',
    shadow: 'same',
    shadowPercent: 100,
  };
  const { s } = service(
    { st: await fake({ label: 'a' }), same: await fake({ label: 'a', p: 0.9 }), other: await fake({ label: 'b' }) },
    () => route,
    {
      kind: 'parallel',
      budgetMs: 1_000,
    },
  );
  const from = new Date(Date.now() - 1000);
  for (const id of ['ag-1', 'ag-2', 'ag-3']) await s.predict({ modelName: 'm', env: 'prod', requestId: id, inputs: [[1]] });
  route = { ...route, shadow: 'other' };
  for (const id of ['ag-4', 'ag-5']) await s.predict({ modelName: 'm', env: 'prod', requestId: id, inputs: [[1]] });
  const to = new Date(Date.now() + 1000);
  // the same decisions agree, whatever the probabilities
  expect(await s.metrics.agreement('m/prod', 'st', 'same', from, to)).toEqual({ compared: 3, agreed: 3 });
  expect(await s.metrics.agreement('m/prod', 'st', 'other', from, to)).toEqual({ compared: 2, agreed: 0 });
  expect(await s.metrics.agreement('m/prod', null, 'other', from, to)).toEqual({ compared: 0, agreed: 0 });
  expect(await s.metrics.window('m/prod', 'shadow', 'same', from, to)).toMatchObject({ requests: 3, errors: 0 });
  const rows = await shadowRows('pb2');
  expect(rows.map((e) => [e.request_id, e.artifact_id, e.prediction, e.cold])).toEqual([
    ['ag-1', 'same', '[{"label":"a","probabilities":{"a":0.9}}]', true],
    ['ag-2', 'same', '[{"label":"a","probabilities":{"a":0.9}}]', false],
    ['ag-3', 'same', '[{"label":"a","probabilities":{"a":0.9}}]', false],
    ['ag-4', 'other', '[{"label":"b"}]', true],
    ['ag-5', 'other', '[{"label":"b"}]', false],
  ]);
  await s.close();
});

it('after-response mode: nothing of the shadow runs until the deferral runs it', async () => {
  const route = {
    modelName: 'm',
    env: 'prod',
    stable: 'st',
    canary: null,
    percent: 0,
    promotionId: 'pb3',
    shadow: 'sh',
    shadowPercent: 100,
  };
  const deferred: (() => void)[] = [];
  const { s } = service({ st: await fake({ label: 'a' }), sh: await fake({ label: 'b' }) }, () => route, {
    kind: 'after-response',
    defer: (t) => deferred.push(t),
  });
  const r = await s.predict({ modelName: 'm', env: 'prod', requestId: 'ar-1', inputs: [[1]] });
  expect(r.predictions).toEqual([{ label: 'a' }]);
  expect(deferred).toHaveLength(1);
  expect(s.modelLoads).toBe(1); // the shadow's model is not even loaded yet
  deferred.shift()!();
  await s.flush(); // waits for the shadow begun
  expect(s.modelLoads).toBe(2);
  expect(await shadowRows('pb3')).toEqual([expect.objectContaining({ request_id: 'ar-1', artifact_id: 'sh', error: false, cold: true })]);
  await s.close();
});

it('samples the shadow share deterministically and apart from the canary split', () => {
  const route = {
    modelName: 'm',
    env: 'prod',
    stable: 's',
    canary: 'c',
    percent: 50,
    promotionId: 'p-split',
    shadow: 'h',
    shadowPercent: 50,
  };
  const keys = Array.from({ length: 4000 }, (_, i) => `k${i}`);
  const shadowed = keys.filter((k) => mirrored(route, k));
  expect(shadowed.length / keys.length).toBeGreaterThan(0.46);
  expect(shadowed.length / keys.length).toBeLessThan(0.54);
  expect(keys.filter((k) => mirrored(route, k))).toEqual(shadowed);
  // independent of the canary bucket: about half of the canary keys are sampled too
  const canary = keys.filter((k) => chooseVariant(route, k) === 'canary');
  const both = canary.filter((k) => mirrored(route, k)).length / canary.length;
  expect(both).toBeGreaterThan(0.44);
  expect(both).toBeLessThan(0.56);
  expect(mirrored({ ...route, shadowPercent: 0 }, 'k1')).toBe(false);
  expect(mirrored({ ...route, shadow: null }, 'k1')).toBe(false);
});

it('carries shadow events through the log lines and the ingest: both events of a request are new, a redelivery is neither', async () => {
  const lines: { id: string; message: string }[] = [];
  const route = {
    modelName: 'm',
    env: 'ing',
    stable: 'st',
    canary: null,
    percent: 0,
    promotionId: 'pb5',
    shadow: 'sh',
    shadowPercent: 100,
  };
  const recorder = new LogLineEventRecorder({ database: db, graceSeconds: 10 }, (l) => lines.push({ id: `${lines.length}`, message: l }));
  const { s } = service(
    { st: await fake({ label: 'a' }), sh: await fake({ label: 'b' }) },
    () => route,
    { kind: 'parallel', budgetMs: 1000 },
    recorder,
  );
  await s.predict({ modelName: 'm', env: 'ing', requestId: 'ln-1', inputs: [[1]] });
  expect(lines.map((l) => JSON.parse(l.message).variant).sort()).toEqual(['shadow', 'stable']);
  const now = new Date(Date.now() + 5_000);
  expect(await ingestLogLines(db.db, lines, { now, graceSeconds: 10 })).toMatchObject({ events: 2, inserted: 2, late: 0 });
  expect(await ingestLogLines(db.db, lines, { now, graceSeconds: 10 })).toMatchObject({ events: 2, inserted: 0, late: 0 });
  const rows = await db.db
    .selectFrom('serving_events')
    .select(['variant', 'artifact_id'])
    .where('request_id', '=', 'ln-1')
    .orderBy('variant')
    .execute();
  expect(rows).toEqual([
    { variant: 'shadow', artifact_id: 'sh' },
    { variant: 'stable', artifact_id: 'st' },
  ]);
  await s.close();
});

it('warms an artifact with one load, then serves it when routed without another; a refused one is not ok, naming why', async () => {
  let route: ServingRoute = { modelName: 'm', env: 'bg', stable: 'blue', canary: null, percent: 0, promotionId: 'pb6' };
  const { s, audited } = service(
    {
      blue: await fake({ label: 'a' }),
      green: await fake({ label: 'b', features: ['x', 'y'] }),
      pickled: await tarGz({ 'model.pkl': 'x' }),
    },
    () => route,
    { kind: 'parallel', budgetMs: 100 },
  );
  await s.predict({ modelName: 'm', env: 'bg', requestId: 'bg-1', inputs: [[1]] });
  expect(s.modelLoads).toBe(1);
  expect(await s.warmUp({ modelName: 'm', env: 'bg', artifactId: 'green', requests: 5 })).toEqual({
    ok: true,
    answered: 5,
    requests: 5,
    inputs: 'synthetic',
  });
  expect(s.modelLoads).toBe(2);
  route = { ...route, stable: 'green' }; // the switch
  expect(await s.predict({ modelName: 'm', env: 'bg', requestId: 'bg-2', inputs: [[1, 2]] })).toMatchObject({
    artifactId: 'green',
    cold: false,
  });
  route = { ...route, stable: 'blue' }; // a rollback within the hold
  expect(await s.predict({ modelName: 'm', env: 'bg', requestId: 'bg-3', inputs: [[1]] })).toMatchObject({
    artifactId: 'blue',
    cold: false,
  });
  expect(s.modelLoads).toBe(2);
  // warm-up answers are no serving events
  await s.flush();
  expect(await db.db.selectFrom('serving_events').select('request_id').where('artifact_id', '=', 'green').execute()).toEqual([
    { request_id: 'bg-2' },
  ]);

  const refused = await s.warmUp({ modelName: 'm', env: 'bg', artifactId: 'pickled', requests: 3 });
  expect(refused).toMatchObject({
    ok: false,
    answered: 0,
    requests: 3,
    reason: expect.stringMatching(/^artifact pickled is refused \(UNSUPPORTED_FORMAT\): no runtime accepts/),
  });
  expect(audited.filter((e) => e.type === 'serving.refused').map((e) => e.payload)).toEqual([
    expect.objectContaining({ artifactId: 'pickled', variant: 'warm-up', env: 'bg' }),
  ]);
  expect(await s.warmUp({ modelName: 'm', env: 'bg', artifactId: 'unknown', requests: 1 })).toMatchObject({
    ok: false,
    reason: expect.stringMatching(/artifact unknown is refused \(ARTIFACT_UNVERIFIED\): artifact unknown is not registered/),
  });
  expect(await s.warmUp({ modelName: 'other', env: 'bg', artifactId: 'green', requests: 1 })).toMatchObject({
    ok: false,
    reason: 'artifact green is a version of m, not of other',
  });
  await expect(s.warmUp({ modelName: 'm', env: 'bg', artifactId: 'green', requests: 0 })).rejects.toMatchObject({
    code: 'VALIDATION_FAILED',
    field: 'requests',
  });
  await s.close();
});

it('the recorded source compares shadow samples with the stable samples of the same request id', async () => {
  const at = '2026-11-30T10:00:00Z';
  const src = new RecordedMetricsSource([
    { deploymentKey: 'm/p', variant: 'stable', artifactId: 's', requestId: 'r1', at, prediction: 'a' },
    { deploymentKey: 'm/p', variant: 'shadow', artifactId: 'h', requestId: 'r1', at, prediction: 'a' },
    { deploymentKey: 'm/p', variant: 'stable', artifactId: 's', requestId: 'r2', at, prediction: 'a' },
    { deploymentKey: 'm/p', variant: 'shadow', artifactId: 'h', requestId: 'r2', at, prediction: 'b' },
    { deploymentKey: 'm/p', variant: 'stable', artifactId: 's', requestId: 'r3', at, error: true },
    { deploymentKey: 'm/p', variant: 'shadow', artifactId: 'h', requestId: 'r3', at, prediction: 'a' },
    { deploymentKey: 'm/p', variant: 'stable', artifactId: 's', requestId: 'r4', at, prediction: 'a' },
    { deploymentKey: 'm/p', variant: 'shadow', artifactId: 'h', requestId: 'r4', at, error: true },
  ]);
  const [from, to] = [new Date('2026-11-30T09:00:00Z'), new Date('2026-11-30T11:00:00Z')];
  expect(await src.agreement('m/p', 's', 'h', from, to)).toEqual({ compared: 2, agreed: 1 });
  expect(await src.agreement('m/p', 's', 'h', to, to)).toEqual({ compared: 0, agreed: 0 });
  expect(await src.window('m/p', 'shadow', 'h', from, to)).toMatchObject({ requests: 4, errors: 1 });
});
