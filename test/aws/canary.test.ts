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
import { jest } from '@jest/globals';
import { roleClient, runMigrations } from './support/callers.js';
import { ok } from './support/cli.js';
import { ROW, SAMPLE, servedWorld, shuffledSample } from './support/traffic.js';

const MODEL = 'aws-canary';
const ENV = 'canary';
jest.setTimeout(600_000);
const served = servedWorld({ model: MODEL, env: ENV, prefix: 'aegis-canary-aws-' });
const { cli } = served;
const invoker = () => roleClient(served.world, 'invoker');
const { trained, settled, traffic } = served.kit;

describe('a canary judged on ingested traffic, on the synthesized artifacts', () => {
  let base: string;
  let healthy: string;
  let regressed: string;

  it('migrates, trains and registers a base, a healthy candidate and one trained on shuffled labels; the base serves the environment', async () => {
    expect((await runMigrations(served.world, 'Create', 'e2e-canary')).PhysicalResourceId).toBe('aegis-migrations');
    base = await trained('base', SAMPLE, 'canary-sample', 7);
    healthy = await trained('healthy', SAMPLE, 'canary-sample', 8);
    regressed = await trained('regressed', shuffledSample(served.work), 'canary-shuffled', 7);
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
    // judged on quality only: a window whose labels lag behind its requests is inconclusive, not passed
    '--min-labelled',
    '50',
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
    // after the promotion the route may answer for a moment from the cache (the base as stable, or
    // the healthy candidate still as the canary of the split): wait for the healthy one as stable
    for (const deadline = Date.now() + 10_000; ;) {
      const r = await invoker().request<{ variant: string; artifactId: string }>('POST', `/v1/serving/${MODEL}/${ENV}/predict`, {
        inputs: [ROW],
      });
      if (r.artifactId === healthy && r.variant === 'stable') break;
      if (Date.now() > deadline) throw new Error(`the environment still answers with ${r.artifactId} as ${r.variant}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  });
});
