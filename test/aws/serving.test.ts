/**
 * Serving on AWS, on what `cdk deploy` would ship (see support/world.ts): the bundled serving
 * function answers a prediction through the emulated API (SigV4, as an invoker) with the
 * artifact promoted to staging, writes its serving event as one log line and nothing to the
 * database, and the bundled `serving-ingest` function, fed those captured lines as CloudWatch
 * Logs delivers them to a subscription (gzip + base64), inserts them, once however often the
 * delivery is replayed, and raises the deployment's ingest watermark (where the judge ends its
 * windows). Label feedback and the canary status answer through the emulated API from their own
 * bundled function (the database only), and the bundled `serving-retention` job deletes the
 * events and labels past the horizon.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { jest } from '@jest/globals';
import pg from 'pg';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { runBuiltinTrainer } from '../../lib/clients/training/builtin-trainer.js';
import { packDirectory } from '../../lib/clients/training/pack.js';
import { SERVING_EVENT_FIELD } from '../../lib/modules/serving/event-log.js';
import { roleClient, runMigrations } from './support/callers.js';
import { ok } from './support/cli.js';
import { servedRoutes } from './support/synth.js';
import { worldSuite } from './support/suite.js';

const MODEL = 'e2e-serve';
jest.setTimeout(300_000);
let db: pg.Client;
let servingFn: string;
let ingestFn: string;
let retentionFn: string;
// jest runs afterAll hooks in the order they are declared: the client ends before the world drops its database
afterAll(async () => {
  await db?.end();
});
// serving writes a segment within a second of its first line (the stack's default is 10 s: template-tested)
const suite = worldSuite('aegis-serving-aws-', () => ({ extraEnv: () => ({ AEGIS_SERVING_SEGMENT_SECONDS: '1' }) }));
const { cli } = suite;

beforeAll(async () => {
  servingFn = suite.world.functionId((fn) => servedRoutes(fn).includes('servingPredict'));
  ingestFn = suite.world.functionId((fn) => /^ServingIngest/.test(fn.logicalId));
  retentionFn = suite.world.functionId((fn) => /^ServingRetention/.test(fn.logicalId));
  db = new pg.Client({ connectionString: suite.world.databaseUrl });
  await db.connect();
});

const client = (role: string) => roleClient(suite.world, role);

/** What CloudWatch Logs hands a subscription's function for these lines of the serving function's log group. */
function subscriptionEvent(lines: string[]) {
  const payload = {
    messageType: 'DATA_MESSAGE',
    owner: '123456789012',
    logGroup: `/aws/lambda/${servingFn}`,
    logStream: '2026/11/30/[$LATEST]e2e',
    subscriptionFilters: ['aegis-serving-events'],
    logEvents: lines.map((message, i) => ({
      id: `3600000000000000000000000000000000000000000000${String(i).padStart(10, '0')}`,
      timestamp: Date.now(),
      message,
    })),
  };
  return { awslogs: { data: gzipSync(Buffer.from(JSON.stringify(payload))).toString('base64') } };
}

const servingLines = () =>
  suite.world.logs
    .filter((l) => l.startsWith(`${servingFn}: `))
    .map((l) => l.slice(servingFn.length + 2))
    .filter((l) => l.includes(`"${SERVING_EVENT_FIELD}"`));

const ROW = { age: 41.2, income: 52000, ratio: 0.7, weak_signal: 0.4, noise: 100.1 };
let manifestFile: string;

/** Registers the packed artifact as `model` (the manifest of the first test) and promotes it to staging. */
async function registeredInStaging(model: string, artifact: string): Promise<string> {
  const reg = await cli('publisher', ['register', '--model', model, '--artifact', artifact, '--manifest', manifestFile]);
  ok(reg);
  const staging = await cli('promoter', ['promote', '--artifact-id', reg.json.artifactId, '--env', 'staging', '--reason', 'serve']);
  ok(staging);
  for (const deadline = Date.now() + 120_000; ;) {
    const p = await cli('auditor', ['promotions', '--id', staging.json.promotionId]);
    ok(p);
    if (p.json.status === 'succeeded') return reg.json.artifactId as string;
    if (!['rolling_out', 'pending_multisig'].includes(p.json.status) || Date.now() > deadline)
      throw new Error(`promotion ${p.json.status}\n${suite.world.logs.slice(-30).join('\n')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('serving on the synthesized artifacts', () => {
  let artifactId: string;
  /** what the single-row request aws-req-2 predicted */
  let predicted2: string;

  it('migrates, registers a trained logistic model and promotes it to staging', async () => {
    const migrated = await runMigrations(suite.world, 'Create', 'e2e-serving');
    expect(migrated.PhysicalResourceId).toBe('aegis-migrations');

    const data = join(suite.work, 'dataset.csv');
    writeFileSync(data, 'a,b,label\n1,2,0\n3,4,1\n');
    const ds = await cli('publisher', ['datasets', 'register', '--id', 'serving-sample', '--version', '1', '--path', data]);
    ok(ds);
    // the built-in trainer's model.json, packed as `aegis train --record` packs it
    const modelDir = join(suite.work, 'model');
    await runBuiltinTrainer({
      datasets: [{ id: 'sample', path: join(process.cwd(), 'test/data/sample') }],
      outDir: modelDir,
      seed: 7,
      hyperparams: {},
    });
    const artifact = join(suite.work, 'model.tar.gz');
    await packDirectory(modelDir, artifact);
    const manifest = join(suite.work, 'manifest.json');
    writeFileSync(
      manifest,
      JSON.stringify({
        codeRef: 'git:4f2c1e0',
        containerDigest: `sha256:${'a'.repeat(64)}`,
        datasetRefs: [{ id: 'serving-sample', version: '1', checksum: ds.json.checksum }],
        hyperparams: {},
        seed: 7,
        trainingCmd: 'aegis train',
        environment: { node: '22' },
        metrics: { auc: 0.8 },
      }),
    );
    manifestFile = manifest;
    artifactId = await registeredInStaging(MODEL, artifact);
  });

  it('predicts through the emulated API as an invoker (SigV4), naming the artifact; other roles are refused', async () => {
    const path = `/v1/serving/${MODEL}/staging/predict`;
    const invoker = client('invoker');
    const first = await invoker.request<any>('POST', path, { inputs: [ROW, [30, 40000, 0.2, 0.9, 99]] }, { 'x-request-id': 'aws-req-1' });
    expect(first).toMatchObject({ requestId: 'aws-req-1', model: MODEL, env: 'staging', variant: 'stable', artifactId });
    expect(first.predictions).toHaveLength(2);
    expect(['0', '1']).toContain(first.predictions[0].label);
    const second = await invoker.request<any>('POST', path, { requestId: 'aws-req-2', inputs: [ROW] });
    expect(second).toMatchObject({ requestId: 'aws-req-2', variant: 'stable', artifactId });
    predicted2 = second.predictions[0].label;
    // a bad row is the caller's error, naming the field
    await expect(invoker.request('POST', path, { inputs: [{ age: 'old' }] })).rejects.toMatchObject({ status: 400 });
    await expect(client('publisher').request('POST', path, { inputs: [ROW] })).rejects.toMatchObject({ status: 403 });
  });

  it('serves an ONNX artifact: onnxruntime-node loads from the bundle and answers as the reference does', async () => {
    const artifact = join(suite.work, 'onnx.tar.gz');
    await packDirectory(join(process.cwd(), 'test/fixtures/onnx/classifier'), artifact);
    const onnxId = await registeredInStaging(`${MODEL}-onnx`, artifact);
    const reference = JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/onnx/classifier.reference.json'), 'utf8')) as {
      rows: number[][];
      predictions: { label: string; probabilities: Record<string, number> }[];
      tolerance: number;
    };
    const r = await client('invoker').request<any>('POST', `/v1/serving/${MODEL}-onnx/staging/predict`, {
      requestId: 'aws-onnx-1',
      inputs: reference.rows.slice(0, 3),
    });
    expect(r).toMatchObject({ variant: 'stable', artifactId: onnxId });
    expect(r.predictions.map((p: { label: string }) => p.label)).toEqual(reference.predictions.slice(0, 3).map((p) => p.label));
    for (const [i, p] of (r.predictions as { probabilities: Record<string, number> }[]).entries())
      expect(Math.abs(p.probabilities.churn! - reference.predictions[i]!.probabilities.churn!)).toBeLessThan(reference.tolerance);
  });

  it("writes the sampled inputs as JSONL segments to the stack's drift bucket (DRIFT_S3_BUCKET), under serving-inputs/", async () => {
    const s3 = new S3Client({ endpoint: suite.world.s3Endpoint, forcePathStyle: true, region: 'eu-west-1' });
    const bucket = suite.world.buckets.DriftBucket!;
    expect(bucket).toBeDefined();
    const prefix = `serving-inputs/${MODEL}/staging/`;
    // a segment is written by the end of the first invocation its interval has passed by (or its timer, in a warm process)
    const rows = async () => {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      const out: { requestId: string; variant: string; inputs: unknown[] }[] = [];
      for (const o of listed.Contents ?? []) {
        expect(o.Key).toMatch(/^serving-inputs\/e2e-serve\/staging\/\d{4}-\d{2}-\d{2}\/\d{2}\/\d{8}T\d{6}Z-[0-9a-f]{12}\.jsonl$/);
        const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }))).Body!.transformToString();
        out.push(
          ...body
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l)),
        );
      }
      return out;
    };
    let found: Awaited<ReturnType<typeof rows>> = [];
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 1000))) {
      // each predict ends by writing the segments that are due
      await client('invoker').request('POST', `/v1/serving/${MODEL}/staging/predict`, { inputs: [ROW] });
      found = await rows();
      if (found.some((r) => r.requestId === 'aws-req-1')) break;
    }
    expect(found.find((r) => r.requestId === 'aws-req-1')).toMatchObject({ variant: 'stable', inputs: [ROW, [30, 40000, 0.2, 0.9, 99]] });
    const head = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect((head.Contents ?? []).every((o) => o.Key!.startsWith('serving-inputs/'))).toBe(true);
  });

  it('writes each serving event as one log line and inserts nothing itself', async () => {
    const lines = servingLines();
    const ids = lines.map((l) => JSON.parse(l).requestId);
    expect(ids).toEqual(expect.arrayContaining(['aws-req-1', 'aws-req-2', 'aws-onnx-1']));
    expect(JSON.parse(lines.find((l) => l.includes('aws-req-1'))!)).toMatchObject({
      [SERVING_EVENT_FIELD]: 1,
      deploymentKey: `${MODEL}/staging`,
      variant: 'stable',
      artifactId,
      error: false,
      cold: true,
      // the same line is a CloudWatch EMF document: requests, errors, latency per variant
      Model: MODEL,
      Environment: 'staging',
      Variant: 'stable',
      Requests: 1,
      Errors: 0,
      _aws: { CloudWatchMetrics: [expect.objectContaining({ Namespace: 'Aegis/Serving' })] },
    });
    // and no second copy of the request metrics (the per-request model_inference_* EMF lines)
    expect(suite.world.logs.filter((l) => l.startsWith(`${servingFn}: `) && l.includes('model_inference_'))).toEqual([]);
    const stored = await db.query('select count(*)::int as n from serving_events');
    expect(stored.rows[0].n).toBe(0);
  });

  it('the bundled ingest function inserts the captured lines as a subscription delivers them, once however often replayed', async () => {
    const lines = servingLines();
    // a delivery may carry other lines of the group (the filter is a pattern, a replay is the same batch)
    const delivery = subscriptionEvent([...lines, 'END RequestId: 1']);
    const first = await suite.world.fleet.invoke<{ events: number; skipped: number; statements: number; late: number }>(ingestFn, delivery);
    expect(first).toEqual({ events: lines.length, skipped: 1, duplicates: 0, statements: 1, late: 0 });
    // the watermarks the judge ends its windows at: the latest event time of each deployment
    const latest: Record<string, string> = {};
    for (const l of lines) {
      const e = JSON.parse(l) as { deploymentKey: string; at: string };
      if (!(e.deploymentKey in latest) || e.at > latest[e.deploymentKey]!) latest[e.deploymentKey] = e.at;
    }
    expect(Object.keys(latest).sort()).toEqual([`${MODEL}-onnx/staging`, `${MODEL}/staging`]);
    const watermarks = async () =>
      Object.fromEntries(
        (await db.query('select deployment_key, event_at from serving_ingest_watermarks')).rows.map((r) => [
          r.deployment_key,
          new Date(r.event_at).toISOString(),
        ]),
      );
    expect(await watermarks()).toEqual(latest);
    const replay = await suite.world.fleet.invoke<{ events: number; duplicates: number; late: number }>(ingestFn, delivery);
    expect(replay).toMatchObject({ events: lines.length, duplicates: lines.length, late: 0 });
    expect(await watermarks()).toEqual(latest);
    // one EMF line per delivery on the ingest's own stdout: the lag and volume metrics
    const emf = suite.world.logs
      .filter((l) => l.startsWith(`${ingestFn}: `) && l.includes('"IngestLagSeconds"'))
      .map((l) => JSON.parse(l.slice(ingestFn.length + 2)) as Record<string, any>);
    expect(emf.map((e) => [e.IngestedEvents, e.DuplicateEvents])).toEqual([
      [lines.length, 0],
      [lines.length, lines.length],
    ]);
    expect(emf[0]!._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Aegis/Serving', Dimensions: [['Service']] });
    expect(emf[0]!.IngestLagSeconds).toBeGreaterThanOrEqual(0);
    const rows = await db.query('select request_id, deployment_key, variant, artifact_id, error, cold from serving_events order by at');
    expect(rows.rows).toHaveLength(lines.length);
    expect(rows.rows.find((r) => r.request_id === 'aws-req-1')).toEqual({
      request_id: 'aws-req-1',
      deployment_key: `${MODEL}/staging`,
      variant: 'stable',
      artifact_id: artifactId,
      error: false,
      cold: true,
    });
    expect(rows.rows.find((r) => r.request_id === 'aws-req-2')).toMatchObject({ cold: false, error: false });
    // CloudWatch Logs checks a new subscription with a control message: nothing to insert
    const control = await suite.world.fleet.invoke<{ events: number }>(ingestFn, {
      awslogs: { data: gzipSync(Buffer.from(JSON.stringify({ messageType: 'CONTROL_MESSAGE', logEvents: [] }))).toString('base64') },
    });
    expect(control.events).toBe(0);
  });

  it('takes label feedback through the emulated API as an invoker into serving_labels: all or none, a repeat a no-op, a conflict a 409 naming the item', async () => {
    const path = `/v1/serving/${MODEL}/staging/feedback`;
    const invoker = client('invoker');
    const items = [
      { requestId: 'aws-req-2', label: predicted2 },
      { requestId: 'aws-req-1', label: '1' },
    ];
    expect(await invoker.request('POST', path, { items })).toEqual({ model: MODEL, env: 'staging', accepted: 2, unchanged: 0 });
    expect(await invoker.request('POST', path, { items })).toEqual({ model: MODEL, env: 'staging', accepted: 0, unchanged: 2 });
    const flipped = predicted2 === '1' ? '0' : '1';
    await expect(
      invoker.request('POST', path, {
        items: [
          { requestId: 'aws-late', label: '1' },
          { requestId: 'aws-req-2', label: flipped },
        ],
      }),
    ).rejects.toMatchObject({ status: 409, code: 'CONFLICT', field: 'items.1.label' });
    await expect(invoker.request('POST', path, { items: [] })).rejects.toMatchObject({ status: 400, field: 'items' });
    // a publisher may not label
    await expect(client('publisher').request('POST', path, { items })).rejects.toMatchObject({ status: 403 });
    const rows = await db.query('select deployment_key, request_id, label from serving_labels order by request_id');
    // the refused batch stored nothing (aws-late is not there)
    expect(rows.rows).toEqual([
      { deployment_key: `${MODEL}/staging`, request_id: 'aws-req-1', label: '1' },
      { deployment_key: `${MODEL}/staging`, request_id: 'aws-req-2', label: predicted2 },
    ]);
  });

  it('answers the canary status through the emulated API from the ingested events and the labels (any role)', async () => {
    const status = await client('reader').request<any>('GET', `/v1/serving/${MODEL}/staging/status?windowMinutes=120`);
    expect(status).toMatchObject({ model: MODEL, env: 'staging', percent: 0, promotionStatus: 'succeeded' });
    // every stable request of the deployment the ingest inserted (the drift test's predictions too)
    const ingested = await db.query("select count(*)::int as n from serving_events where deployment_key = $1 and variant = 'stable'", [
      `${MODEL}/staging`,
    ]);
    expect(ingested.rows[0].n).toBeGreaterThanOrEqual(2);
    expect(status.variants.stable).toMatchObject({ artifactId, requests: ingested.rows[0].n, errors: 0, errorRate: 0 });
    expect(status.variants.stable.latencyMs.p50).toEqual(expect.any(Number));
    // only the single-row request counts for quality: it was labelled with what it predicted
    expect(status.variants.stable.quality).toEqual({ correct: 1, labelled: 1, rate: 1 });
    expect(status.variants.canary).toMatchObject({ artifactId: null, requests: 0, quality: null });
    expect(status.verdicts).toEqual([]);
    await expect(client('reader').request('GET', `/v1/serving/${MODEL}/prod/status`)).rejects.toMatchObject({
      status: 404,
      field: 'env',
    });
    await expect(client('reader').request('GET', `/v1/serving/${MODEL}/staging/status?windowMinutes=0`)).rejects.toMatchObject({
      status: 400,
      field: 'query.windowMinutes',
    });
  });

  it('the bundled serving-retention job deletes events and labels past AEGIS_SERVING_RETENTION_DAYS (14) and keeps the rest', async () => {
    const old = new Date(Date.now() - 20 * 86_400_000);
    await db.query(
      `insert into serving_events (request_id, deployment_key, variant, artifact_id, promotion_id, at, latency_ms, latency_bucket, error, cold, prediction)
       values ('aws-old-1', $1, 'stable', $2, null, $3, 2, 10, false, false, null), ('aws-old-2', $1, 'stable', $2, null, $3, 2, 10, true, false, null)`,
      [`${MODEL}/staging`, artifactId, old],
    );
    await db.query(`insert into serving_labels (deployment_key, request_id, label, received_at) values ($1, 'aws-old-1', '0', $2)`, [
      `${MODEL}/staging`,
      old,
    ]);
    const before = await db.query(
      'select (select count(*)::int from serving_events) as events, (select count(*)::int from serving_labels) as labels',
    );
    const purged = await suite.world.fleet.invoke<{
      events: number;
      labels: number;
      segments: number;
      segmentExpiry: string;
      before: string;
    }>(retentionFn, { 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} });
    expect(purged).toMatchObject({ events: 2, labels: 1, segments: 0, segmentExpiry: 'lifecycle' });
    expect(Date.now() - Date.parse(purged.before)).toBeGreaterThanOrEqual(14 * 86_400_000);
    const after = await db.query(
      'select (select count(*)::int from serving_events) as events, (select count(*)::int from serving_labels) as labels',
    );
    expect(after.rows[0]).toEqual({ events: before.rows[0].events - 2, labels: before.rows[0].labels - 1 });
    const left = await db.query(`select request_id from serving_events where request_id like 'aws-old-%'`);
    expect(left.rows).toEqual([]);
    // a second run finds nothing more
    expect(await suite.world.fleet.invoke(retentionFn, {})).toMatchObject({ events: 0, labels: 0 });
  });
});
