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
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { createPrng } from '../../lib/clients/training/prng.js';
import { roleClient, runMigrations } from './support/callers.js';
import { worldCli, ok } from './support/cli.js';
import { servedRoutes } from './support/synth.js';
import { csv, ROW, SAMPLE, trafficKit } from './support/traffic.js';
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
const { trained, settled, traffic } = trafficKit({
  world: () => world,
  work: () => work,
  cli,
  model: MODEL,
  env: ENV,
  servingFn: () => servingFn,
  ingestFn: () => ingestFn,
});

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
      inputs: [ROW],
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
    expect([...(t.answered.canary ?? [])]).toEqual([regressed]);
    expect([...(t.answered.stable ?? [])]).toEqual([base]);
    const after = await invoker().request<{ variant: string; artifactId: string }>('POST', `/v1/serving/${MODEL}/${ENV}/predict`, {
      inputs: [ROW],
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
    expect([...(t.answered.canary ?? [])]).toEqual([healthy]);
    // after the promotion the route may answer for a moment from the cache: wait for it
    for (const deadline = Date.now() + 10_000; ;) {
      const r = await invoker().request<{ variant: string; artifactId: string }>('POST', `/v1/serving/${MODEL}/${ENV}/predict`, {
        inputs: [ROW],
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
