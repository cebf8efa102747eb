/**
 * Drift runs on the local stack, end to end: a trained model (v2 baseline) served in staging;
 * input segments of many past hourly windows written by serving's own writer (InputSegments)
 * under a fake clock, their rows answered by the served model; the drift-schedule job's
 * `scheduleDue` ticking through the hours starts one run per closed window, each executed by the
 * local drift ASL (Plan → Map CountShard → Report) into a report and, for a drifted stream,
 * one retrain suggestion that later drifted reports attach to.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BaselineProfile } from '../../lib/kernel/baseline-profile.js';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { versionsDir } from '../../lib/platform/adapters/object-store/fs-versions.js';
import type { LocalWorkflows } from '../../lib/platform/adapters/workflows/asl.js';
import { InputSegments, segmentHour } from '../../lib/modules/serving/segments.js';
import type { Prediction } from '../../lib/platform/ports/model-runtime.js';
import { detectWindow } from '../../lib/modules/drift/detect.js';
import { DriftWindows } from '../../lib/modules/drift/service.js';
import type { DriftRun, PlanOutput, ShardPartial } from '../../lib/modules/drift/records.js';
import { DriftConfig } from '../../lib/modules/drift/config.js';
import { DRIFT_RUN_LIMIT_SECONDS, DriftRuns } from '../../lib/modules/drift/runs.js';
import { finishRun, insertRun } from '../../lib/modules/drift/store-runs.js';
import type { AegisError } from '../../lib/kernel/errors.js';
import { startStack, type Stack } from '../support/local-stack.js';
import { trainedSample } from '../support/trained-sample.js';

const HOUR = 3_600_000;
/**
 * The first window's start: two days ahead, on the hour, so nothing served now lands in a window,
 * and every window ends after the model first served (the schedule judges no window before that).
 */
const T0 = Math.ceil(Date.now() / HOUR) * HOUR + 48 * HOUR;
const ROWS_PER_LINE = 50;
const LINES_PER_WINDOW = 26; // 1300 rows: above DRIFT_DEFAULTS.minRows (1000)
const POLICY = { schedule: { enabled: true, everyMinutes: 60, windowMinutes: 60, shards: 3 }, detectors: {}, deployments: [] };

let stack: Stack;
let work: string;
let artifactId: string;
let baseline: BaselineProfile;
let pool: { normal: { row: number[]; p: Prediction }[]; drifted: { row: number[]; p: Prediction }[] };

async function trainAndServe(): Promise<void> {
  ({ artifactId, baseline } = await trainedSample(stack, work));
}

/** The training rows, and the same rows with the most important feature shifted by 6 standard deviations, answered by the served model. */
async function answeredPool(): Promise<typeof pool> {
  const lines = (await readFile(join(process.cwd(), 'test/data/sample/train.csv'), 'utf8')).trim().split('\n').slice(1);
  const rows = lines.map((l) => l.split(',').slice(0, 5).map(Number));
  const top = baseline.featureOrder.indexOf(baseline.topFeatures![0]!);
  const values = rows.map((r) => r[top]!);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  const shifted = rows.map((r) => r.map((v, j) => (j === top ? v + 6 * std : v)));
  const answer = async (rs: number[][], tag: string) => {
    const out: { row: number[]; p: Prediction }[] = [];
    for (let i = 0; i < rs.length; i += 200) {
      const chunk = rs.slice(i, i + 200);
      const res = await stack.container.serving.predict({ modelName: 'churn', env: 'staging', requestId: `${tag}-${i}`, inputs: chunk });
      chunk.forEach((row, j) => out.push({ row, p: res.predictions[j]! }));
    }
    return out;
  };
  return { normal: await answer(rows, 'pool-n'), drifted: await answer(shifted, 'pool-d') };
}

/** Writes one hour's window of sampled requests through serving's segment writer, its clock inside the hour. */
async function writeWindow(hour: number, kind: 'normal' | 'drifted'): Promise<void> {
  let now = new Date(T0 + hour * HOUR);
  const writer = new InputSegments(
    new FsObjectStore({ root: join(stack.dataDir, 'drift') }),
    {
      sampleRate: 1,
      maxRows: 10,
      intervalMs: HOUR,
      onError: (e) => {
        throw e;
      },
    },
    () => now,
  );
  const source = pool[kind];
  for (let i = 0; i < LINES_PER_WINDOW; i++) {
    now = new Date(T0 + hour * HOUR + i * 60_000);
    const picked = Array.from({ length: ROWS_PER_LINE }, (_, j) => source[(hour * 997 + i * ROWS_PER_LINE + j) % source.length]!);
    writer.served({
      modelName: 'churn',
      env: 'staging',
      requestId: `w${hour}-${i}`,
      variant: 'stable',
      artifactId,
      at: now,
      latencyMs: 3,
      cold: false,
      inputs: picked.map((x) => x.row),
      predictions: picked.map((x) => x.p),
    });
  }
  await writer.flush();
}

const drift = () => stack.container.drift;
const runs = () => stack.container.driftRuns;
const local = () => stack.container.driftWorkflows as LocalWorkflows;

/** Waits for the run's execution and returns the run as it ended. */
async function ended(runId: string): Promise<DriftRun> {
  await local().settled(runId);
  const run = await drift().run(runId);
  if (!run || run.status === 'running') throw new Error(`run ${runId} has not ended: ${JSON.stringify(run)}`);
  return run;
}

/** The tick of the drift-schedule job a few minutes after the window of `hour` closed. */
const tickAfter = (hour: number) => new Date(T0 + (hour + 1) * HOUR + 3 * 60_000);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aegis-drift-runs-'));
  await writeFile(join(work, 'drift.json'), JSON.stringify(POLICY));
  stack = await startStack({ AEGIS_SERVING_ROUTE_CACHE_SECONDS: '0', AEGIS_DRIFT_POLICY: join(work, 'drift.json') });
  await trainAndServe();
  pool = await answeredPool();
  for (let h = 0; h < 4; h++) await writeWindow(h, 'normal');
  for (let h = 4; h < 7; h++) await writeWindow(h, 'drifted');
  await writeWindow(8, 'normal');
}, 240_000);
afterAll(async () => {
  await stack?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('scheduled drift runs', () => {
  const reports: { hour: number; run: DriftRun; verdict: string; suggestionId: string | null }[] = [];

  it('judges no window that ended before the deployment first served', async () => {
    const [served] = await stack.container.serving.deployments(artifactId);
    expect(served).toMatchObject({ env: 'staging' });
    // the latest window as of the first serve ended before it: nothing to judge yet
    expect(await runs().scheduleDue(new Date(served!.verifiedAt))).toEqual([]);
  });

  it('each tick starts one run of the window that closed, a second tick for it starts nothing', async () => {
    for (let h = 0; h < 7; h++) {
      const started = await runs().scheduleDue(tickAfter(h));
      expect(started.map((r) => [r.model, r.env, r.from, r.to, r.trigger])).toEqual([
        ['churn', 'staging', new Date(T0 + h * HOUR).toISOString(), new Date(T0 + (h + 1) * HOUR).toISOString(), 'schedule'],
      ]);
      expect(await runs().scheduleDue(new Date(tickAfter(h).getTime() + 30_000))).toEqual([]);
      const run = await ended(started[0]!.runId);
      expect(run).toMatchObject({ status: 'succeeded', artifactId, shards: 3, error: null });
      expect(local().outcome(run.runId)).toEqual({ status: 'succeeded' });
      const r = await drift().report(run.reportId!);
      reports.push({ hour: h, run, verdict: r!.record.verdict, suggestionId: r!.record.suggestionId });
    }
  }, 240_000);

  it('baseline-like windows each get a no-drift report and raise nothing', () => {
    const normal = reports.filter((r) => r.hour < 4);
    expect(normal).toHaveLength(4);
    for (const r of normal) expect([r.verdict, r.suggestionId]).toEqual(['no-drift', null]);
  });

  it('a drifted stream raises exactly one suggestion, and the later drifted reports attach to it', async () => {
    const drifted = reports.filter((r) => r.hour >= 4);
    expect(drifted.map((r) => r.verdict)).toEqual(['drift', 'drift', 'drift']);
    const suggestionId = drifted[0]!.suggestionId;
    expect(suggestionId).not.toBeNull();
    expect(drifted.map((r) => r.suggestionId)).toEqual([suggestionId, suggestionId, suggestionId]);
    const page = await drift().suggestions({ model: 'churn', env: 'staging', limit: 50 });
    expect(page.items.map((s) => s.suggestionId)).toEqual([suggestionId]);
    expect(page.items[0]).toMatchObject({ servingArtifactId: artifactId, status: 'open', reportId: drifted[0]!.run.reportId });
    expect(page.items[0]!.reportIds).toEqual(drifted.map((r) => r.run.reportId));
  });

  it('the merged shards give the report the one-pass window gives', async () => {
    const { run } = reports.find((r) => r.hour === 5)!;
    const windows = new DriftWindows({
      segments: new FsObjectStore({ root: join(stack.dataDir, 'drift') }),
      registry: stack.container.registry,
      store: stack.container.store,
      labels: stack.container.serving,
    });
    const q = { model: 'churn', env: 'staging', artifactId, from: new Date(run.from), to: new Date(run.to) };
    expect((await windows.segmentsOf(q)).length).toBeGreaterThanOrEqual(3);
    const one = await windows.windowOf(q);
    if (one.kind !== 'window') throw new Error(one.reason);
    const stored = await drift().report(run.reportId!);
    expect(stored!.report).toEqual(JSON.parse(JSON.stringify(detectWindow(one.window, one.baseline, POLICY.detectors))));
    expect(one.window.profile.rows).toBe(LINES_PER_WINDOW * ROWS_PER_LINE);
  });

  it('an hour with no segments is judged as insufficient data; a window whose segment cannot be read fails the run and the execution', async () => {
    const [empty] = await runs().scheduleDue(tickAfter(7));
    expect(await ended(empty!.runId)).toMatchObject({ status: 'succeeded', shards: 0, error: null });
    expect((await drift().report((await drift().run(empty!.runId))!.reportId!))!.record.verdict).toBe('insufficient-data');
    // hour 8's first segment: listed, its bytes a folder (a corrupted store: reading it fails, EISDIR)
    const root = join(stack.dataDir, 'drift');
    let first: string | undefined;
    const { day, hour } = segmentHour(new Date(T0 + 8 * HOUR));
    for await (const o of new FsObjectStore({ root }).list(`serving-inputs/churn/staging/${day}/${hour}/`)) first ??= o.key;
    const dir = versionsDir(root, first!);
    for (const f of await readdir(dir))
      if (f.endsWith('.bin')) {
        await unlink(join(dir, f));
        await mkdir(join(dir, f));
      }
    const [broken] = await runs().scheduleDue(tickAfter(8));
    const run = await ended(broken!.runId);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/EISDIR/);
    expect(local().outcome(run.runId)).toEqual({ status: 'failed', error: 'DriftRunFailed' });
  }, 120_000);
});

describe('requested runs', () => {
  it('run the given window through the same machine; the report attaches to the open suggestion', async () => {
    const from = new Date(T0 + 4 * HOUR);
    const run = await drift().requestRun({ model: 'churn', env: 'staging', from, to: new Date(T0 + 5 * HOUR) }, 'alice');
    expect(run).toMatchObject({ trigger: 'request', requestedBy: 'alice', status: 'running', from: from.toISOString() });
    const done = await ended(run.runId);
    expect(done).toMatchObject({ status: 'succeeded', shards: 3 });
    const r = await drift().report(done.reportId!);
    expect(r!.record.verdict).toBe('drift');
    const [suggestion] = (await drift().suggestions({ model: 'churn', env: 'staging', limit: 5 })).items;
    expect(r!.record.suggestionId).toBe(suggestion!.suggestionId);
    expect(await drift().modelOf('run', run.runId)).toBe('churn');
    expect(await drift().modelOf('run', 'no-such-run')).toBeUndefined();
  }, 60_000);

  it('without a window: the latest closed scheduled window (policies/drift.json)', async () => {
    const now = stack.container.clock.now().getTime();
    const run = await drift().requestRun({ model: 'churn', env: 'staging' }, 'alice');
    const to = Math.floor((now - 120_000) / HOUR) * HOUR;
    expect([run.from, run.to]).toEqual([new Date(to - HOUR).toISOString(), new Date(to).toISOString()]);
    await ended(run.runId);
  }, 60_000);

  it("the drift-schedule job runs scheduleDue at the clock's now (no window before the model served); run durations are measured", async () => {
    const first = (await stack.container.scheduler.run('drift-schedule')) as { started: string[] };
    // at the real now, the latest closed window ended before the model first served in this suite
    expect(first.started).toEqual([]);
    const text = await stack.container.metricsExposition!.text();
    expect(text).toMatch(/ai_infra_drift_run_duration_seconds_count\{env="staging",status="succeeded"\} ([1-9][0-9]*)/);
    expect(text).toMatch(/ai_infra_drift_run_duration_seconds_count\{env="staging",status="failed"\} 1\b/);
  }, 60_000);

  it('a run left running with no execution (the server stopped mid-run) is started again once older than the machine allows; on AWS it is failed', async () => {
    const now = stack.container.clock.now();
    const stale = (hour: number, ageSeconds: number) =>
      insertRun(stack.container.database.db, {
        runId: randomUUID(),
        model: 'churn',
        env: 'staging',
        from: new Date(T0 + hour * HOUR),
        to: new Date(T0 + (hour + 1) * HOUR),
        trigger: 'request',
        requestedBy: 'alice',
        createdAt: new Date(now.getTime() - ageSeconds * 1000),
      });
    const interrupted = await stale(5, DRIFT_RUN_LIMIT_SECONDS + 60);
    const young = await stale(6, 60); // may still be executing in another process: left alone
    expect(await runs().sweepStale(now, { restart: true })).toEqual({ resumed: [interrupted.runId], failed: [] });
    const done = await ended(interrupted.runId);
    expect(done).toMatchObject({ status: 'succeeded', shards: 3 });
    expect((await drift().report(done.reportId!))!.record.verdict).toBe('drift');
    expect((await drift().run(young.runId))!.status).toBe('running');
    // on AWS (no restart): the execution timed out or was stopped, so the run is failed with the reason
    const timedOut = await stale(2, DRIFT_RUN_LIMIT_SECONDS + 60);
    expect(await runs().sweepStale(now, { restart: false })).toEqual({ resumed: [], failed: [timedOut.runId] });
    expect(await drift().run(timedOut.runId)).toMatchObject({ status: 'failed', error: expect.stringMatching(/timed out after 3600 s/) });
    await finishRun(stack.container.database.db, young.runId, { status: 'failed', error: 'test cleanup', at: now });
  }, 60_000);

  it.each([
    ['to', { from: new Date(T0 + HOUR), to: new Date(T0) }],
    ['to', { from: new Date(T0), to: new Date(T0 + 745 * HOUR) }],
    ['from', { from: new Date('nonsense'), to: new Date(T0) }],
    ['model', { model: 'a/b' }],
  ])('refuses a bad window with 400 naming %s', async (field, q) => {
    const e = await drift()
      .requestRun({ model: 'churn', env: 'staging', ...q }, 'alice')
      .then(
        () => ({ status: 0, field: 'none' }),
        (x: unknown) => x as { status: number; field: string },
      );
    expect([e.status, e.field]).toEqual([400, field]);
  });

  it('refuses a deployment nothing serves with 409 naming env', async () => {
    const e = await drift()
      .requestRun({ model: 'churn', env: 'prod' }, 'alice')
      .then(
        () => ({ status: 0, field: 'none' }),
        (x: unknown) => x as { status: number; field: string },
      );
    expect([e.status, e.field]).toEqual([409, 'env']);
  });
});

describe('the drift steps', () => {
  /** DriftRuns over the stack's database and drift store whose executions never start: the test runs each step. */
  function manualRuns() {
    const objects = new FsObjectStore({ root: join(stack.dataDir, 'drift') });
    const windows = new DriftWindows({
      segments: objects,
      registry: stack.container.registry,
      store: stack.container.store,
      labels: stack.container.serving,
    });
    return new DriftRuns({
      database: stack.container.database,
      objects,
      windows,
      records: { recordReport: () => Promise.reject(new Error('not reached')) },
      routes: stack.container.rollout,
      serving: stack.container.serving,
      workflows: { start: async () => ({ executionId: 'manual', started: true }) },
      config: () => DriftConfig.parse('test', JSON.stringify(POLICY)),
      clock: stack.container.clock,
      settleSeconds: 120,
    });
  }

  it('a partial whose bytes changed after it was counted fails Report (sha256); the run is failed with the error, once', async () => {
    const m = manualRuns();
    const run = await m.requestRun({ model: 'churn', env: 'staging', from: new Date(T0), to: new Date(T0 + HOUR) }, 'alice');
    const plan = (await m.step({ task: 'plan', runId: run.runId })) as PlanOutput;
    expect(plan.shards).toEqual([0, 1, 2]);
    const partials = [];
    for (const shard of plan.shards) partials.push((await m.step({ task: 'count', runId: run.runId, shard })) as ShardPartial);
    await new FsObjectStore({ root: join(stack.dataDir, 'drift') }).put(partials[1]!.key, '{"segments":0}');
    const e = (await m.step({ task: 'report', runId: run.runId, partials }).catch((x: unknown) => x)) as AegisError;
    expect([e.code, e.field]).toEqual(['SHA256_MISMATCH', 'partials.1.sha256']);
    await m.step({ task: 'failed', runId: run.runId, error: { Error: e.name, Cause: JSON.stringify({ errorMessage: e.message }) } });
    const failed = await m.run(run.runId);
    expect(failed).toMatchObject({ status: 'failed', error: `AegisError: ${e.message}` });
    // RecordFailure again (a retry) leaves the first error; Plan of a finished run is refused by name
    await m.step({ task: 'failed', runId: run.runId, error: { Error: 'Other' } });
    expect((await m.run(run.runId))!.error).toBe(failed!.error);
    const finished = (await m.step({ task: 'plan', runId: run.runId }).catch((x: unknown) => x)) as Error;
    expect(finished.name).toBe('Aegis.RunFinished');
  });

  it('partials that are not the planned shards are refused', async () => {
    const m = manualRuns();
    const run = await m.requestRun({ model: 'churn', env: 'staging', from: new Date(T0), to: new Date(T0 + HOUR) }, 'alice');
    await m.step({ task: 'plan', runId: run.runId });
    const p0 = (await m.step({ task: 'count', runId: run.runId, shard: 0 })) as ShardPartial;
    const e = (await m.step({ task: 'report', runId: run.runId, partials: [p0] }).catch((x: unknown) => x)) as AegisError;
    expect([e.code, e.field]).toEqual(['VALIDATION_FAILED', 'partials']);
    const c = (await m.step({ task: 'count', runId: run.runId, shard: 7 }).catch((x: unknown) => x)) as AegisError;
    expect([c.code, c.field]).toEqual(['VALIDATION_FAILED', 'shard']);
  });
});
