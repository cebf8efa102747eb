/**
 * Issue 17's serving telemetry on the local stack, through the real HTTP server: label
 * feedback and quality joined on read, input segments in the drift store, the Prometheus
 * series, canary status, and retention with an injected clock.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuiltinTrainer } from '../../lib/clients/training/builtin-trainer.js';
import { packDirectory } from '../../lib/clients/training/pack.js';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { settled } from '../promotion/support.js';
import { aegisCli } from '../support/spawn.js';

const DAY_MS = 86_400_000;
let offsetMs = 0;
const clock = { now: () => new Date(Date.now() + offsetMs) };

let stack: Stack;
let work: string;
let invoker: string;
let artifactId: string;
const predicted = new Map<string, string>();

const ROW = { age: 41.2, income: 52000, ratio: 0.7, weak_signal: 0.4, noise: 100.1 };
const ROWS = [
  ROW,
  [30, 40000, 0.2, 0.9, 99],
  [55, 90000, 0.9, 0.1, 101],
  [22, 15000, 0.1, 0.5, 98],
  [47, 61000, 0.5, 0.5, 100],
  [35, 30000, 0.3, 0.2, 97],
];

async function call(method: string, path: string, body: unknown, token: string) {
  const r = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, body: (await r.json()) as any };
}
const predict = (body: Record<string, unknown>) => call('POST', '/v1/serving/churn/staging/predict', body, invoker);
const feedback = (items: unknown[], env = 'staging', token = invoker) =>
  call('POST', `/v1/serving/churn/${env}/feedback`, { items }, token);
const quality = async () =>
  (await stack.container.serving.metrics.window('churn/staging', 'stable', artifactId, new Date(0), new Date(Date.now() + 60_000))).quality;
const flip = (label: string) => (label === '1' ? '0' : '1');

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aegis-telemetry-'));
  stack = await startStack({ AEGIS_SERVING_ROUTE_CACHE_SECONDS: '0' }, { clock });
  invoker = (await stack.api('POST', '/v1/tokens', { principal: 'checkout-app', role: 'invoker' })).body.token;
  const dir = join(work, 'churn');
  await runBuiltinTrainer({
    datasets: [{ id: 'sample', path: join(process.cwd(), 'test/data/sample') }],
    outDir: dir,
    seed: 7,
    hyperparams: {},
  });
  await packDirectory(dir, join(work, 'churn.tar.gz'));
  const r = await uploadAndRegister(stack, 'churn', await readFile(join(work, 'churn.tar.gz')));
  expect(r.status).toBe(201);
  artifactId = r.body.artifactId;
  const p = await stack.api('POST', `/v1/registry/${artifactId}/promote`, { targetEnv: 'staging', reason: 'test' });
  expect(p.status).toBe(201);
  expect((await settled(stack, p.body.promotionId, 30_000)).status).toBe('succeeded');
  for (const [i, row] of ROWS.entries()) {
    const res = await predict({ requestId: `fb-${i}`, inputs: [row] });
    expect(res.status).toBe(200);
    predicted.set(`fb-${i}`, res.body.predictions[0].label);
  }
  expect((await predict({ requestId: 'fb-multi', inputs: [ROW, ROW] })).status).toBe(200);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('POST /v1/serving/{model}/{env}/feedback', () => {
  const first = () => [
    ...['fb-0', 'fb-1', 'fb-2'].map((id) => ({ requestId: id, label: predicted.get(id)! })),
    ...['fb-3', 'fb-4'].map((id) => ({ requestId: id, label: flip(predicted.get(id)!) })),
    { requestId: 'fb-multi', label: '1' },
    { requestId: 'later-req', label: 1 },
  ];

  it('stores labels (202) and the judge reads quality joined on read: single-row predictions vs labels', async () => {
    expect(await quality()).toBeUndefined();
    const r = await feedback(first());
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ model: 'churn', env: 'staging', accepted: 7, unchanged: 0 });
    // fb-5 is unlabelled, fb-multi has two rows, later-req has not been served
    expect(await quality()).toEqual({ correct: 3, labelled: 5 });
  });

  it('is idempotent: the same labels again are no-ops', async () => {
    const r = await feedback(first());
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ accepted: 0, unchanged: 7 });
    expect(await quality()).toEqual({ correct: 3, labelled: 5 });
  });

  it('refuses another label for a labelled request with 409 naming the item, storing nothing of the batch', async () => {
    const r = await feedback([
      { requestId: 'fb-5', label: predicted.get('fb-5')! },
      { requestId: 'fb-0', label: flip(predicted.get('fb-0')!) },
    ]);
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'CONFLICT', field: 'items.1.label' });
    const twice = await feedback([
      { requestId: 'fb-5', label: '0' },
      { requestId: 'fb-5', label: '1' },
    ]);
    expect(twice.status).toBe(409);
    expect(twice.body.error).toMatchObject({ code: 'CONFLICT', field: 'items.1.label' });
    expect(await quality()).toEqual({ correct: 3, labelled: 5 });
  });

  it.each([
    [[], 'items'],
    [Array.from({ length: 501 }, (_, i) => ({ requestId: `bulk-${i}`, label: '1' })), 'items'],
    [[{ requestId: 'fb-5', label: '' }], 'items.0.label'],
    [[{ requestId: 'fb-5' }], 'items.0.label'],
    [[{ requestId: 'fb-5', label: '1', extra: true }], 'items.0.extra'],
    [[{ requestId: ' spaced', label: '1' }], 'items.0.requestId'],
  ])('refuses a bad batch with 400 naming the field (%#)', async (items, field) => {
    const r = await feedback(items);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field });
  });

  it('counts a label only in its deployment, and joins a label that came before its request', async () => {
    // a label given under another environment is that deployment's, not staging's
    expect((await feedback([{ requestId: 'fb-5', label: predicted.get('fb-5')! }], 'prod')).status).toBe(202);
    expect(await quality()).toEqual({ correct: 3, labelled: 5 });
    expect((await feedback([{ requestId: 'fb-5', label: Number(predicted.get('fb-5')) }])).body.accepted).toBe(1);
    expect(await quality()).toEqual({ correct: 4, labelled: 6 });
    const later = await predict({ requestId: 'later-req', inputs: [ROW] });
    const correct = later.body.predictions[0].label === '1' ? 5 : 4;
    expect(await quality()).toEqual({ correct, labelled: 7 });
  });

  it('is for invokers and admins only', async () => {
    const reader = (await stack.api('POST', '/v1/tokens', { principal: 'worker', role: 'reader' })).body.token;
    expect((await feedback([{ requestId: 'fb-5', label: '1' }], 'staging', reader)).status).toBe(403);
    expect((await feedback([{ requestId: 'admin-label', label: '1' }], 'staging', stack.adminToken)).status).toBe(202);
  });
});

describe('GET /v1/serving/{model}/{env}/status', () => {
  it('shows the split and per-variant counts, latency, error rate and quality', async () => {
    const r = await stack.api('GET', '/v1/serving/churn/staging/status?windowMinutes=30');
    expect(r.status).toBe(200);
    const s = r.body;
    expect(s).toMatchObject({ model: 'churn', env: 'staging', percent: 0, promotionStatus: 'succeeded', verdicts: [] });
    expect(s.variants.stable).toMatchObject({ artifactId, requests: 8, errors: 0, errorRate: 0 });
    expect(s.variants.stable.quality).toMatchObject({ labelled: 7 });
    expect(s.variants.stable.quality.rate).toBeCloseTo(s.variants.stable.quality.correct / 7, 12);
    expect(s.variants.stable.latencyMs.p50).toBeGreaterThan(0);
    expect(s.variants.stable.latencyMs.p99).toBeGreaterThanOrEqual(s.variants.stable.latencyMs.p50);
    expect(s.variants.canary).toEqual({
      artifactId: null,
      requests: 0,
      errors: 0,
      errorRate: null,
      latencyMs: { p50: null, p95: null, p99: null },
      quality: null,
    });
    expect(Date.parse(s.window.to) - Date.parse(s.window.from)).toBe(30 * 60_000);
    expect(s.series).toBeUndefined();
  });

  it('with points, cuts the window into equal slots per variant that add up to the totals', async () => {
    const r = await stack.api('GET', '/v1/serving/churn/staging/status?windowMinutes=30&points=6');
    expect(r.status).toBe(200);
    const { series, variants, window } = r.body;
    expect(series).toHaveLength(6);
    expect(series[0].from).toBe(window.from);
    expect(series[5].to).toBe(window.to);
    for (const p of series) expect(Date.parse(p.to) - Date.parse(p.from)).toBe(5 * 60_000);
    const sum = (f: (p: any) => number) => series.reduce((t: number, p: any) => t + f(p), 0);
    expect(sum((p) => p.stable.requests)).toBe(variants.stable.requests);
    expect(sum((p) => p.canary.requests)).toBe(0);
    const busy = series.filter((p: any) => p.stable.requests > 0);
    expect(busy.length).toBeGreaterThan(0);
    for (const p of busy) {
      expect(p.stable.errorRate).toBe(0);
      expect(p.stable.latencyMs.p95).toBeGreaterThanOrEqual(p.stable.latencyMs.p50);
      expect(p.stable.latencyMs.p99).toBeGreaterThanOrEqual(p.stable.latencyMs.p95);
    }
    expect(sum((p) => (p.stable.quality === null ? 0 : 1))).toBeGreaterThan(0);
    expect(series.find((p: any) => p.stable.requests === 0)?.stable ?? { errorRate: null }).toMatchObject({ errorRate: null });
    const bad = await stack.api('GET', '/v1/serving/churn/staging/status?points=241');
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'query.points' });
  });

  it('answers 404 naming env where nothing serves, 400 for a bad window, and not to an invoker', async () => {
    const none = await stack.api('GET', '/v1/serving/churn/prod/status');
    expect(none.status).toBe(404);
    expect(none.body.error).toMatchObject({ code: 'NOT_FOUND', field: 'env' });
    const bad = await stack.api('GET', '/v1/serving/churn/staging/status?windowMinutes=0');
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'query.windowMinutes' });
    expect((await call('GET', '/v1/serving/churn/staging/status', undefined, invoker)).status).toBe(403);
  });
});

describe('aegis feedback and aegis canary status', () => {
  const aegis = (...args: string[]) => aegisCli(args, { AEGIS_URL: stack.url, AEGIS_DATA_DIR: stack.dataDir, AEGIS_TOKEN: invoker });

  it('sends a JSON Lines file of labels, idempotently, and reports a conflicting label by its item', async () => {
    const file = join(work, 'labels.jsonl');
    await writeFile(file, '{"requestId":"cli-a","label":"1"}\n\n{"requestId":"cli-b","label":0}\n');
    const first = await aegis('--json', 'feedback', '--model', 'churn', '--env', 'staging', '--input', file);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ model: 'churn', env: 'staging', items: 2, accepted: 2, unchanged: 0 });
    const again = await aegis('feedback', '--model', 'churn', '--env', 'staging', '--input', file);
    expect(again.stdout).toContain('0 labels stored, 2 already stored');
    await writeFile(file, JSON.stringify({ items: [{ requestId: 'cli-b', label: '1' }] }));
    const conflict = await aegis('--json', 'feedback', '--model', 'churn', '--env', 'staging', '--input', file);
    expect(conflict.code).not.toBe(0);
    expect(JSON.parse(conflict.stdout).error).toMatchObject({ code: 'CONFLICT', field: 'items.0.label' });
    await writeFile(file, '[{"requestId":"cli-c"}]');
    const bad = await aegis('feedback', '--model', 'churn', '--env', 'staging', '--input', file);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('item 0 must be an object with requestId and label');
  });

  it('shows the canary status of a deployment, as text and as JSON', async () => {
    const env = { AEGIS_URL: stack.url, AEGIS_DATA_DIR: stack.dataDir, AEGIS_TOKEN: stack.adminToken };
    const json = await aegisCli(['--json', 'canary', 'status', '--model', 'churn', '--env', 'staging'], env);
    expect(json.code).toBe(0);
    const s = JSON.parse(json.stdout);
    expect(s).toMatchObject({ model: 'churn', env: 'staging', percent: 0 });
    expect(s.variants.stable).toMatchObject({ artifactId, requests: 8, errors: 0 });
    const text = await aegisCli(['canary', 'status', '--model', 'churn', '--env', 'staging', '--window', '120'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`stable  ${artifactId}  requests 8  errors 0 (0.00%)`);
    expect(text.stdout).toMatch(/quality \d+\.\d{2}% of 7 labelled/);
    expect(text.stdout).toContain('canary  (none)');
  });
});

describe('telemetry outside the database', () => {
  const drift = () => new FsObjectStore({ root: join(stack.dataDir, 'drift') });

  it('writes the inputs and predictions of served requests as JSONL segments per deployment and hour', async () => {
    await stack.container.serving.flush();
    const keys: string[] = [];
    for await (const o of drift().list('serving-inputs/churn/staging/')) keys.push(o.key);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k).toMatch(/^serving-inputs\/churn\/staging\/\d{4}-\d{2}-\d{2}\/\d{2}\/\d{8}T\d{6}Z-[0-9a-f]{12}\.jsonl$/);
    const lines = [];
    for (const k of keys) {
      const chunks: Buffer[] = [];
      for await (const c of await drift().get(k)) chunks.push(c as Buffer);
      lines.push(
        ...Buffer.concat(chunks)
          .toString('utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l)),
      );
    }
    expect(lines.map((l) => l.requestId).sort()).toEqual(['fb-0', 'fb-1', 'fb-2', 'fb-3', 'fb-4', 'fb-5', 'fb-multi', 'later-req'].sort());
    const multi = lines.find((l) => l.requestId === 'fb-multi');
    expect(multi).toMatchObject({ variant: 'stable', artifactId, error: false, inputs: [ROW, ROW] });
    expect(multi.predictions).toHaveLength(2);
    expect(keys[0]).toContain(`/${multi.at.slice(0, 10)}/${multi.at.slice(11, 13)}/`);
  });

  it('serves the inference series on /metrics, labelled by model, env, variant and artifact', async () => {
    const text = await (await fetch(`${stack.url}/metrics`)).text();
    const labels = `model="churn",env="staging",variant="stable",artifact_id="${artifactId}"`;
    expect(text).toContain(`model_inference_requests_total{${labels},outcome="ok"} 8`);
    expect(text).toContain(`model_inference_latency_seconds_count{${labels}} 8`);
    expect(text).toContain(`model_inference_error_rate{${labels}} 0`);
    // the quality gauge follows the last read (the status above, and the judge's reads)
    const q = await quality();
    expect(text).toMatch(
      new RegExp(`model_prediction_quality\\{${labels.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\} ${q!.correct / q!.labelled}`),
    );
  });

  it('purges serving events, labels and input segments past the retention horizon (injected clock)', async () => {
    const count = async (table: 'serving_events' | 'serving_labels') =>
      Number(
        (
          await stack.container.database.db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const segments = async () => {
      let n = 0;
      for await (const _ of drift().list('serving-inputs/')) n++;
      return n;
    };
    expect(await stack.container.scheduler.run('serving-retention')).toMatchObject({ events: 0, labels: 0, segments: 0 });
    const [events, labels, segs] = [await count('serving_events'), await count('serving_labels'), await segments()];
    expect(events).toBe(8);
    // 13 days on: nothing is old enough yet
    offsetMs = 13 * DAY_MS;
    expect(await stack.container.scheduler.run('serving-retention')).toMatchObject({ events: 0, labels: 0, segments: 0 });
    // 15 days on (default horizon 14): everything recorded before goes, a label received now stays
    offsetMs = 15 * DAY_MS;
    await stack.container.servingTelemetry.feedback('churn', 'staging', [{ requestId: 'fresh', label: '1' }]);
    expect(await stack.container.scheduler.run('serving-retention')).toMatchObject({ events, labels, segments: segs });
    expect(await count('serving_events')).toBe(0);
    expect(await count('serving_labels')).toBe(1);
    expect(await segments()).toBe(0);
  });
});
