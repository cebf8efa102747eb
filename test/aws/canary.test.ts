/**
 * A canary judged on served traffic on AWS, on what `cdk deploy` would ship (support/world.ts):
 * predictions and their labels go through the emulated API (SigV4, as an invoker) to the
 * bundled serving and feedback functions; the serving function's event log lines reach the
 * bundled `serving-ingest` function as CloudWatch Logs delivers them to the subscription
 * (batched, gzip + base64, about once a second, some of them twice); the synthesized promotion
 * state machine runs the bundled rollout step, which judges each window on what was ingested.
 * A candidate trained on shuffled labels is rolled back on quality, a healthy one is promoted,
 * and the environment answers with the right artifact after each.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { jest } from '@jest/globals';
import { runBuiltinTrainer } from '../../lib/clients/training/builtin-trainer.js';
import { packDirectory } from '../../lib/clients/training/pack.js';
import { createPrng } from '../../lib/clients/training/prng.js';
import { SERVING_EVENT_FIELD } from '../../lib/modules/serving/event-log.js';
import { roleClient, runMigrations } from './support/callers.js';
import { worldCli, ok } from './support/cli.js';
import { servedRoutes } from './support/synth.js';
import { startWorld, type World } from './support/world.js';

const MODEL = 'aws-canary';
const ENV = 'canary';
jest.setTimeout(600_000);
let world: World;
let work: string;
let servingFn: string;
let ingestFn: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'aegis-canary-aws-'));
  world = await startWorld({
    // every Wait of the state machines lasts this long: the canary window the traffic fills
    waitMs: 10_000,
    // the serving function sees a route change within a second (the default cache is 5 s)
    extraEnv: (fn): Record<string, string> =>
      servedRoutes(fn).includes('servingPredict') ? { AEGIS_SERVING_ROUTE_CACHE_SECONDS: '1' } : {},
  });
  servingFn = world.functionId((fn) => servedRoutes(fn).includes('servingPredict'));
  ingestFn = world.functionId((fn) => /^ServingIngest/.test(fn.logicalId));
}, 600_000);
afterAll(async () => {
  await world?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const cli = worldCli(
  () => world,
  () => work,
);

const invoker = () => roleClient(world, 'invoker');

/**
 * CloudWatch Logs' side of the subscription: every `intervalMs`, the serving function's new log
 * lines (every line: the filter pattern picks the events) are delivered to the bundled ingest
 * function; each delivery after the first also repeats the previous one's last line, as an
 * at-least-once delivery may.
 */
function startDeliveries(intervalMs = 1000) {
  let next = 0;
  let previousLast: string | undefined;
  let delivered = 0;
  let failure: unknown;
  const deliver = async () => {
    const lines = world.logs
      .slice(next)
      .filter((l) => l.startsWith(`${servingFn}: `))
      .map((l) => l.slice(servingFn.length + 2));
    next = world.logs.length;
    if (lines.length === 0) return;
    const batch = previousLast ? [previousLast, ...lines] : lines;
    previousLast = lines.at(-1);
    const payload = {
      messageType: 'DATA_MESSAGE',
      owner: '123456789012',
      logGroup: `/aws/lambda/${servingFn}`,
      logStream: '2026/11/30/[$LATEST]canary',
      subscriptionFilters: ['aegis-serving-events'],
      logEvents: batch.map((message, i) => ({ id: `${Date.now()}${String(i).padStart(8, '0')}`, timestamp: Date.now(), message })),
    };
    await world.fleet.invoke(ingestFn, { awslogs: { data: gzipSync(Buffer.from(JSON.stringify(payload))).toString('base64') } });
    delivered += lines.filter((l) => l.includes(`"${SERVING_EVENT_FIELD}"`)).length;
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      await new Promise((r) => setTimeout(r, intervalMs));
      await deliver().catch((e) => {
        failure = e;
      });
    }
    await deliver();
  })();
  return {
    async stop() {
      running = false;
      await loop;
      if (failure) throw failure;
      return delivered;
    },
  };
}

const SAMPLE = join(process.cwd(), 'test/data/sample');
const csv = (text: string) => {
  const [head, ...lines] = text.trim().split('\n');
  return { header: head!.split(','), rows: lines.map((l) => l.split(',')) };
};

const checksums = new Map<string, string>();
/** Trains the built-in model on a dataset folder, registers it with the same offline metrics as the others, returns its id. */
async function trained(label: string, datasetDir: string, datasetId: string, seed: number): Promise<string> {
  if (!checksums.has(datasetId)) {
    const ds = await cli('publisher', [
      'datasets',
      'register',
      '--id',
      datasetId,
      '--version',
      '1',
      '--path',
      join(datasetDir, 'train.csv'),
    ]);
    ok(ds);
    checksums.set(datasetId, ds.json.checksum);
  }
  const checksum = checksums.get(datasetId)!;
  const modelDir = join(work, `model-${label}`);
  await runBuiltinTrainer({ datasets: [{ id: datasetId, path: datasetDir }], outDir: modelDir, seed, hyperparams: {} });
  const artifact = join(work, `${label}.tar.gz`);
  await packDirectory(modelDir, artifact);
  const manifest = join(work, `${label}.manifest.json`);
  // the same offline metrics for all: the gate lets each through, the judge must tell them apart
  writeFileSync(
    manifest,
    JSON.stringify({
      codeRef: 'git:4f2c1e0',
      containerDigest: `sha256:${'a'.repeat(64)}`,
      datasetRefs: [{ id: datasetId, version: '1', checksum }],
      hyperparams: {},
      seed,
      trainingCmd: 'aegis train',
      environment: { node: '22' },
      metrics: { auc: 0.8 },
    }),
  );
  const reg = await cli('publisher', ['register', '--model', MODEL, '--artifact', artifact, '--manifest', manifest]);
  ok(reg);
  return reg.json.artifactId as string;
}

async function settled(promotionId: string, timeoutMs = 180_000) {
  for (const deadline = Date.now() + timeoutMs; ;) {
    const p = await cli('auditor', ['promotions', '--id', promotionId]);
    ok(p);
    if (!['requested', 'allowed', 'approved', 'rolling_out'].includes(p.json.status)) return p.json;
    if (Date.now() > deadline) throw new Error(`promotion ${promotionId} still ${p.json.status}\n${world.logs.slice(-30).join('\n')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Single-row predictions of the sample's rows through the API, four callers at once, each true
 * label sent back as feedback in batches of 25, until the promotion settles; the log lines
 * delivered to the ingest function meanwhile.
 */
async function traffic(promotionId: string, tag: string) {
  const { header, rows } = csv(readFileSync(join(SAMPLE, 'train.csv'), 'utf8'));
  const col = header.indexOf('label');
  const features = header.filter((_, j) => j !== col);
  const api = invoker();
  const base = `/v1/serving/${MODEL}/${ENV}`;
  const sent = { stable: 0, canary: 0 };
  const answered = { stable: new Set<string>(), canary: new Set<string>() };
  let status = 'rolling_out';
  let n = 0;
  const deliveries = startDeliveries();
  const caller = async () => {
    let pending: { requestId: string; label: string }[] = [];
    while (status === 'rolling_out' && n < 5000) {
      const i = n++;
      const row = rows[i % rows.length]!;
      const requestId = `${tag}-${i}`;
      const input = Object.fromEntries(features.map((f) => [f, Number(row[header.indexOf(f)])]));
      const r = await api.request<{ variant: 'stable' | 'canary'; artifactId: string }>('POST', `${base}/predict`, {
        requestId,
        inputs: [input],
      });
      sent[r.variant] += 1;
      answered[r.variant].add(r.artifactId);
      pending.push({ requestId, label: row[col]! });
      if (pending.length === 25) {
        await api.request('POST', `${base}/feedback`, { items: pending });
        pending = [];
        const p = await cli('auditor', ['promotions', '--id', promotionId]);
        status = p.json.status;
      }
    }
    if (pending.length) await api.request('POST', `${base}/feedback`, { items: pending });
  };
  await Promise.all([caller(), caller(), caller(), caller()]);
  const delivered = await deliveries.stop();
  return { sent, answered, delivered, promotion: await settled(promotionId) };
}

describe('a canary judged on ingested traffic, on the synthesized artifacts', () => {
  let base: string;
  let healthy: string;
  let regressed: string;

  it('migrates, trains and registers a base, a healthy candidate and one trained on shuffled labels; the base serves the environment', async () => {
    expect((await runMigrations(world, 'Create', 'e2e-canary')).PhysicalResourceId).toBe('aegis-migrations');
    // the sample with its labels permuted (seeded): a model trained on it has learnt nothing
    const { header, rows } = csv(readFileSync(join(SAMPLE, 'train.csv'), 'utf8'));
    const col = header.indexOf('label');
    const labels = createPrng(17).shuffle(rows.map((r) => r[col]!));
    const shuffled = join(work, 'shuffled');
    mkdirSync(shuffled, { recursive: true });
    writeFileSync(
      join(shuffled, 'train.csv'),
      `${[header.join(','), ...rows.map((r, i) => r.map((v, j) => (j === col ? labels[i]! : v)).join(','))].join('\n')}\n`,
    );

    base = await trained('base', SAMPLE, 'canary-sample', 7);
    healthy = await trained('healthy', SAMPLE, 'canary-sample', 8);
    regressed = await trained('regressed', shuffled, 'canary-shuffled', 7);
    const p = await cli('promoter', ['promote', '--artifact-id', base, '--env', ENV, '--reason', 'base', '--canary-steps', '0']);
    ok(p);
    expect((await settled(p.json.promotionId)).status).toBe('succeeded');
    const r = await invoker().request<{ variant: string; artifactId: string }>('POST', `/v1/serving/${MODEL}/${ENV}/predict`, {
      inputs: [{ age: 41.2, income: 52000, ratio: 0.7, weak_signal: 0.4, noise: 100.1 }],
    });
    expect(r).toMatchObject({ variant: 'stable', artifactId: base });
  });

  const CANARY = [
    '--canary-percent',
    '50',
    '--canary-steps',
    '1',
    '--canary-window',
    '10',
    '--min-requests',
    '60',
    '--max-inconclusive',
    '3',
  ];

  it('rolls the candidate trained on shuffled labels back on quality, judged on what the ingest inserted; the base still serves', async () => {
    const p = await cli('promoter', ['promote', '--artifact-id', regressed, '--env', ENV, '--reason', 'regression', ...CANARY]);
    ok(p);
    const t = await traffic(p.json.promotionId, 'regressed');
    expect(t.promotion.status).toBe('rolled_back');
    const failed = t.promotion.verdicts.filter((v: { verdict: string }) => v.verdict === 'fail');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ reason: 'quality' });
    expect(failed[0].detail).toMatch(/^quality: canary [\d.]+% vs stable [\d.]+% correct/);
    // the judge counted ingested events only: at most what was delivered, from both arms
    expect(failed[0].requests.canary).toBeGreaterThanOrEqual(60);
    expect(failed[0].requests.stable + failed[0].requests.canary).toBeLessThanOrEqual(t.delivered);
    expect([...t.answered.canary]).toEqual([regressed]);
    expect([...t.answered.stable]).toEqual([base]);
    const after = await invoker().request<{ variant: string; artifactId: string }>('POST', `/v1/serving/${MODEL}/${ENV}/predict`, {
      inputs: [{ age: 41.2, income: 52000, ratio: 0.7, weak_signal: 0.4, noise: 100.1 }],
    });
    expect(after).toMatchObject({ variant: 'stable', artifactId: base });
  });

  it('promotes the healthy candidate after a passing window, and it serves the environment', async () => {
    const p = await cli('promoter', ['promote', '--artifact-id', healthy, '--env', ENV, '--reason', 'healthy', ...CANARY]);
    ok(p);
    const t = await traffic(p.json.promotionId, 'healthy');
    expect(t.promotion.status).toBe('succeeded');
    const last = t.promotion.verdicts.at(-1);
    expect(last).toMatchObject({ verdict: 'pass', reason: 'pass' });
    expect(Math.min(last.requests.stable, last.requests.canary)).toBeGreaterThanOrEqual(60);
    expect([...t.answered.canary]).toEqual([healthy]);
    // after the promotion the route may answer for a moment from the cache: wait for it
    for (const deadline = Date.now() + 10_000; ;) {
      const r = await invoker().request<{ variant: string; artifactId: string }>('POST', `/v1/serving/${MODEL}/${ENV}/predict`, {
        inputs: [{ age: 41.2, income: 52000, ratio: 0.7, weak_signal: 0.4, noise: 100.1 }],
      });
      if (r.artifactId === healthy) {
        expect(r.variant).toBe('stable');
        break;
      }
      if (Date.now() > deadline) throw new Error(`the environment still answers with ${r.artifactId}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  });
});
