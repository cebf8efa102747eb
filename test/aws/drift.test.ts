/**
 * The drift pipeline on AWS, on what `cdk deploy` would ship (support/world.ts): a model with a
 * baseline serves through the bundled serving function, which writes its sampled inputs as
 * segments to the drift bucket in moto S3; `aegis drift run` reaches the bundled function of
 * POST /v1/drift/runs through the emulated API, which starts the synthesized drift state machine
 * (Plan → inline Map CountShard → Report, every Task the bundled drift-step function); the run,
 * the report index and the suggestion land in the Data API server's database, the report and
 * the run's plan and shard counts in the drift bucket. The bundled drift-schedule function
 * starts the scheduled window once however often EventBridge invokes it.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { jest } from '@jest/globals';
import pg from 'pg';
import { roleClient, runMigrations } from './support/callers.js';
import { ok } from './support/cli.js';
import { csv, SAMPLE, servedWorld } from './support/traffic.js';

const MODEL = 'aws-drift';
const ENV = 'staging';
jest.setTimeout(600_000);
/**
 * The drift functions read a configuration of the suite's: a window closes every minute (the
 * deployment serves only minutes before the schedule is invoked), judged 2 s after it closed.
 */
const served = servedWorld({
  model: MODEL,
  env: ENV,
  prefix: 'aegis-drift-aws-',
  extraEnv: (fn, work): Record<string, string> => {
    // serving writes a segment within a second of its first line (default 10 s): the streams wait 2 s, not 11, and a
    // window is judged 2 s after it closed (every function reads both: the settle time may not be shorter)
    const segments = { AEGIS_SERVING_SEGMENT_SECONDS: '1' };
    if (fn.environment.AEGIS_DRIFT_POLICY === undefined) return segments;
    const file = join(work, 'drift.json');
    writeFileSync(
      file,
      JSON.stringify({ schedule: { enabled: true, everyMinutes: 1, windowMinutes: 60, shards: 2 }, detectors: {}, deployments: [] }),
    );
    return { ...segments, AEGIS_DRIFT_POLICY: file, AEGIS_DRIFT_SETTLE_SECONDS: '2' };
  },
});
const { cli, kit } = served;

const { header, rows } = csv(readFileSync(join(SAMPLE, 'train.csv'), 'utf8'));
const features = header.filter((h) => h !== 'label');
const AGE = features.indexOf('age');
const ages = rows.map((r) => Number(r[header.indexOf('age')]));
const mean = ages.reduce((a, b) => a + b, 0) / ages.length;
const sd = Math.sqrt(ages.reduce((a, b) => a + (b - mean) ** 2, 0) / ages.length);
/** The sample's rows as numbers (feature order), `age` shifted by `shiftSd` standard deviations. */
const stream = (n: number, offset: number, shiftSd: number) =>
  Array.from({ length: n }, (_, i) => {
    const row = rows[(offset + i) % rows.length]!;
    const x = features.map((f) => Number(row[header.indexOf(f)]));
    x[AGE] = x[AGE]! + shiftSd * sd;
    return x;
  });

const s3 = () => new S3Client({ endpoint: served.world.s3Endpoint, forcePathStyle: true, region: 'eu-west-1' });
const bucket = () => served.world.buckets.DriftBucket!;
async function keys(prefix: string): Promise<string[]> {
  const listed = await s3().send(new ListObjectsV2Command({ Bucket: bucket(), Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key!).sort();
}
async function object(key: string): Promise<Buffer> {
  const r = await s3().send(new GetObjectCommand({ Bucket: bucket(), Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

/** Serves the rows in requests of 100, then makes sure their segments are in the bucket (one is written by the first call its interval has passed by). */
async function serve(tag: string, xs: number[][]): Promise<number> {
  const api = roleClient(served.world, 'invoker');
  for (let i = 0; i < xs.length; i += 100)
    await api.request('POST', `/v1/serving/${MODEL}/${ENV}/predict`, { requestId: `${tag}-${i}`, inputs: xs.slice(i, i + 100) });
  const before = Date.now();
  // a later call flushes what is due: wait out the segment interval (1 s here), then call once more
  await new Promise((r) => setTimeout(r, Math.max(0, 2_000 - (Date.now() - before))));
  await api.request('POST', `/v1/serving/${MODEL}/${ENV}/predict`, { requestId: `${tag}-flush`, inputs: [xs[0]!] });
  return xs.length;
}

async function query<T>(text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: served.world.databaseUrl });
  await c.connect();
  try {
    return (await c.query(text, values)).rows as T[];
  } finally {
    await c.end();
  }
}

describe('drift runs on the synthesized artifacts', () => {
  let artifactId: string;
  let t0: Date;
  let t1: Date;
  let t2: Date;

  it('trains and registers a model with a baseline and serves it; a baseline-like stream, then a shifted one, reach the drift bucket', async () => {
    expect((await runMigrations(served.world, 'Create', 'e2e-drift')).PhysicalResourceId).toBe('aegis-migrations');
    artifactId = await kit.trained('base', SAMPLE, 'drift-sample', 7);
    const p = await cli('promoter', ['promote', '--artifact-id', artifactId, '--env', ENV, '--reason', 'serve', '--canary-steps', '0']);
    ok(p);
    expect((await kit.settled(p.json.promotionId)).status).toBe('succeeded');
    t0 = new Date();
    await serve('like', stream(1500, 0, 0));
    t1 = new Date();
    await serve('shifted', stream(1500, 500, 6));
    t2 = new Date();
    const segments = await keys(`serving-inputs/${MODEL}/${ENV}/`);
    expect(segments.length).toBeGreaterThanOrEqual(2);
  });

  it('a requested run over the baseline-like window: the drift machine plans, counts and reports no drift, and raises nothing', async () => {
    const r = await cli('operator', ['drift', 'run', '--model', MODEL, '--env', ENV, '--from', t0.toISOString(), '--to', t1.toISOString()]);
    ok(r);
    expect(r.json.run).toMatchObject({ status: 'succeeded', artifactId, trigger: 'request' });
    expect(r.json.report).toMatchObject({ verdict: 'no-drift', suggestionId: null });
    expect(r.json.report.summary.rows).toBeGreaterThanOrEqual(1500);
    const runKeys = await keys(`drift-runs/${r.json.run.runId}/`);
    expect(runKeys).toContain(`drift-runs/${r.json.run.runId}/plan.json`);
    expect(runKeys.filter((k) => /shard-\d+\.json$/.test(k))).toHaveLength(r.json.run.shards);
  });

  let suggestionId: string;
  it('a run over the shifted window reports drift on age and raises one signed suggestion, indexed in the Data API database', async () => {
    const r = await cli('operator', ['drift', 'run', '--model', MODEL, '--env', ENV, '--from', t1.toISOString(), '--to', t2.toISOString()]);
    ok(r);
    expect(r.json.report.verdict).toBe('drift');
    expect(r.json.report.summary.driftedFeatures).toContain('age');
    suggestionId = r.json.report.suggestionId;
    expect(suggestionId).toEqual(expect.any(String));
    const reportId = r.json.report.reportId as string;
    // the stored report's bytes are the ones the index and the drift.report event name
    const [indexed] = await query<{ object_key: string; sha256: string }>(
      'select object_key, sha256 from drift_reports where report_id = $1',
      [reportId],
    );
    const bytes = await object(indexed!.object_key);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(indexed!.sha256);
    const [event] = await query<{ payload: string | Record<string, unknown> }>(
      `select payload from audit_events where type = 'drift.report' and subject = $1`,
      [`drift-report:${reportId}`],
    );
    const payload = typeof event!.payload === 'string' ? JSON.parse(event!.payload) : event!.payload;
    expect(payload.sha256).toBe(indexed!.sha256);
    const suggestions = await query<{ suggestion_id: string; status: string; serving_artifact_id: string }>(
      'select suggestion_id, status, serving_artifact_id from drift_suggestions where model_name = $1',
      [MODEL],
    );
    expect(suggestions).toEqual([{ suggestion_id: suggestionId, status: 'open', serving_artifact_id: artifactId }]);
    // the report through the API: its own function reads drift-reports/ of the bucket
    const shown = await cli('auditor', ['drift', 'show', reportId]);
    ok(shown);
    expect(shown.json.record.sha256).toBe(indexed!.sha256);
    expect(shown.json.report.features.find((f: { feature: string }) => f.feature === 'age')).toMatchObject({ drift: true });
  });

  it('a second drifted run attaches to the open suggestion; a promoter accepts it; the audit chain verifies', async () => {
    const r = await cli('operator', ['drift', 'run', '--model', MODEL, '--env', ENV, '--from', t1.toISOString(), '--to', t2.toISOString()]);
    ok(r);
    expect(r.json.report).toMatchObject({ verdict: 'drift', suggestionId });
    const s = await cli('auditor', ['drift', 'suggestions', '--model', MODEL]);
    ok(s);
    expect(s.json.suggestions).toHaveLength(1);
    expect(s.json.suggestions[0].reportIds).toHaveLength(2);
    expect((await cli('reader', ['drift', 'accept', suggestionId, '--reason', 'nope'])).code).not.toBe(0);
    const a = await cli('promoter', ['drift', 'accept', suggestionId, '--reason', 'retrain on the new ages']);
    ok(a);
    expect(a.json.suggestion).toMatchObject({ status: 'accepted', statusBy: expect.stringContaining('promoter') });
    ok(await cli('auditor', ['audit-verify']));
  });

  it('the bundled drift-schedule function starts the latest closed window (after the model first served) once, however often it is invoked', async () => {
    const schedule = served.world.functionId((fn) => /DriftSchedule/.test(fn.logicalId));
    // a window closes every minute: wait until one has closed (and settled) since the model first served
    const [first] = await query<{ verified_at: Date }>('select verified_at from serving_deployments where model_name = $1', [MODEL]);
    const closes = Math.floor(first!.verified_at.getTime() / 60_000) * 60_000 + 60_000 + 2_000;
    await new Promise((r) => setTimeout(r, Math.max(0, closes - Date.now() + 500)));
    await served.world.fleet.invoke(schedule, {});
    await served.world.fleet.invoke(schedule, {});
    const runs = await query<{ run_id: string; window_to: Date }>(
      `select run_id, window_to from drift_runs where model_name = $1 and trigger = 'schedule'`,
      [MODEL],
    );
    expect(runs).toHaveLength(1);
    const api = roleClient(served.world, 'auditor');
    for (const deadline = Date.now() + 120_000; ; await new Promise((r) => setTimeout(r, 1000))) {
      const { run } = await api.request<{ run: { status: string; trigger: string; artifactId: string } }>(
        'GET',
        `/v1/drift/runs/${runs[0]!.run_id}`,
      );
      if (run.status !== 'running') {
        // the hour before the window's end holds both streams: the shifted one drifts, attached to the open suggestion
        expect(run).toMatchObject({ status: 'succeeded', trigger: 'schedule', artifactId });
        break;
      }
      if (Date.now() > deadline)
        throw new Error(`scheduled run ${runs[0]!.run_id} still running\n${served.world.logs.slice(-30).join('\n')}`);
    }
  });
});
