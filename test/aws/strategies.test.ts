/**
 * Shadow and blue-green rollouts on AWS, on what `cdk deploy` would ship (support/world.ts):
 * callers reach the bundled serving function through the emulated API; its event log lines
 * (the shadow's copies among them) reach the bundled ingest function as CloudWatch Logs
 * delivers them; the synthesized promotion state machine runs the bundled rollout step, which
 * judges shadow windows on what was ingested and warms a blue-green candidate by invoking the
 * serving function through Lambda's Invoke API.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { runMigrations } from './support/callers.js';
import { ok } from './support/cli.js';
import { SAMPLE, servedWorld, shuffledSample } from './support/traffic.js';

const MODEL = 'aws-strategies';
const ENV = 'canary';
jest.setTimeout(600_000);
const served = servedWorld({ model: MODEL, env: ENV, prefix: 'aegis-strategies-aws-' });
const { cli, kit } = served;

/** The environment answers with `artifactId` (the serving function reads routes through a 1 s cache). */
async function serves(artifactId: string, variant: string) {
  for (const deadline = Date.now() + 10_000; ;) {
    const r = await kit.predict();
    if (r.artifactId === artifactId && r.variant === variant) return;
    if (Date.now() > deadline) throw new Error(`the environment still answers with ${r.artifactId} (${r.variant})`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

/** Model loads the serving function counted: its `ai_infra_serving_model_loads_total` EMF lines. */
const loads = () =>
  served.world.logs.filter((l) => l.startsWith(`${served.servingFn}: `) && l.includes('"ai_infra_serving_model_loads_total"')).length;

const SHADOW = ['--strategy', 'shadow', '--shadow-percent', '100', '--min-agreement', '0.9', '--then', 'promote'];
const JUDGE = ['--canary-window', '10', '--min-requests', '60', '--max-inconclusive', '3'];

describe('shadow and blue-green rollouts on the synthesized artifacts', () => {
  let base: string;
  let healthy: string;
  let regressed: string;
  let green: string;

  it('migrates, trains and registers a base, two healthy candidates and one trained on shuffled labels; the base serves', async () => {
    expect((await runMigrations(served.world, 'Create', 'e2e-strategies')).PhysicalResourceId).toBe('aegis-migrations');
    base = await kit.trained('base', SAMPLE, 'strategies-sample', 7);
    healthy = await kit.trained('healthy', SAMPLE, 'strategies-sample', 8);
    green = await kit.trained('green', SAMPLE, 'strategies-sample', 9);
    regressed = await kit.trained('regressed', shuffledSample(served.work), 'strategies-shuffled', 7);
    const p = await cli('promoter', ['promote', '--artifact-id', base, '--env', ENV, '--reason', 'base', '--canary-steps', '0']);
    ok(p);
    expect((await kit.settled(p.json.promotionId)).status).toBe('succeeded');
    await serves(base, 'stable');
  });

  it('discards a shadow that disagrees with the stable answers; callers only ever got the stable answer', async () => {
    const p = await cli('promoter', [
      'promote',
      '--artifact-id',
      regressed,
      '--env',
      ENV,
      '--reason',
      'shadow of a regression',
      ...SHADOW,
      ...JUDGE,
    ]);
    ok(p);
    const t = await kit.traffic(p.json.promotionId, 'regressed');
    expect(t.promotion.status).toBe('rolled_back');
    expect(Object.keys(t.sent)).toEqual(['stable']);
    expect([...t.answered.stable!]).toEqual([base]);
    const failed = t.promotion.verdicts.filter((v: { verdict: string }) => v.verdict === 'fail');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ phase: 'shadow' });
    expect(['agreement', 'quality']).toContain(failed[0].reason);
    expect(failed[0].agreement.compared).toBeGreaterThanOrEqual(60);
    expect(failed[0].agreement.rate).toBeLessThan(0.9);
    expect(t.promotion.rollout.reason).toMatch(/^shadow: /);
    await serves(base, 'stable');
  });

  it('promotes a shadow that agrees straight to 100 % (then: promote); callers got the stable answer until the switch', async () => {
    const p = await cli('promoter', [
      'promote',
      '--artifact-id',
      healthy,
      '--env',
      ENV,
      '--reason',
      'shadow of a healthy model',
      ...SHADOW,
      ...JUDGE,
    ]);
    ok(p);
    const t = await kit.traffic(p.json.promotionId, 'healthy');
    expect(t.promotion.status).toBe('succeeded');
    expect(t.sent.canary ?? 0).toBe(0);
    const last = t.promotion.verdicts.at(-1);
    expect(last).toMatchObject({ verdict: 'pass', phase: 'shadow' });
    expect(last.agreement.compared).toBeGreaterThanOrEqual(60);
    expect(last.agreement.rate).toBeGreaterThanOrEqual(0.9);
    // the shadow's copies were ingested and judged: no more than what was delivered
    expect(last.requests.stable + last.requests.canary).toBeLessThanOrEqual(t.delivered);
    await serves(healthy, 'stable');
  });

  it('aborts a blue-green switch whose candidate fails its warm-up before any traffic moves', async () => {
    const dir = join(served.work, 'not-a-model');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'README.txt'), 'no model here\n');
    const broken = await kit.registered('not-a-model', dir);
    const calls = served.world.lambda.calls.length;
    const p = await cli('promoter', [
      'promote',
      '--artifact-id',
      broken,
      '--env',
      ENV,
      '--reason',
      'broken green',
      '--strategy',
      'blue-green',
    ]);
    ok(p);
    const done = await kit.settled(p.json.promotionId);
    expect(done.status).toBe('rolled_back');
    // the serving function loaded it and refused it: no model format it knows
    expect(done.rollout.reason).toMatch(new RegExp(`^warm-up failed: artifact ${broken} is refused \\(UNSUPPORTED_FORMAT\\)`));
    // the rollout step warmed it through the serving function, and no route ever named it
    // (the synchronous ones: each commit also wakes the event dispatcher, asynchronously)
    const warmed = served.world.lambda.calls.slice(calls).filter((c) => c.type === 'RequestResponse');
    expect(warmed.map((c) => c.logicalId)).toEqual([served.servingFn]);
    expect(warmed[0]!.payload).toMatchObject({ aegisWarmUp: { artifactId: broken, modelName: MODEL, env: ENV } });
    expect(
      done.trace.some((s: { output?: { route?: { canary_artifact_id?: string } } }) =>
        JSON.stringify(s).includes(`"canary_artifact_id":"${broken}"`),
      ),
    ).toBe(false);
    await serves(healthy, 'stable');
  });

  it('switches 100 % to a warmed green at once, and an abort within the hold switches back to blue without a model load', async () => {
    const p = await cli('promoter', [
      'promote',
      '--artifact-id',
      green,
      '--env',
      ENV,
      '--reason',
      'blue-green',
      '--strategy',
      'blue-green',
      '--hold-seconds',
      '600',
      '--warm-up-requests',
      '5',
    ]);
    ok(p);
    const id = p.json.promotionId as string;
    for (const deadline = Date.now() + 60_000; ;) {
      const s = await cli('auditor', ['promotions', '--id', id]);
      ok(s);
      if (s.json.rollout?.phase === 'hold') break;
      if (s.json.status !== 'rolling_out' || Date.now() > deadline) throw new Error(`not in its hold: ${JSON.stringify(s.json.rollout)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await serves(green, 'canary');
    const before = loads();
    const abort = await cli('promoter', ['abort', id, '--reason', 'green looks wrong']);
    ok(abort);
    const done = await kit.settled(id);
    expect(done.status).toBe('rolled_back');
    expect(done.rollout.reason).toMatch(/green looks wrong/);
    await serves(healthy, 'stable');
    // blue stayed the route's stable artifact through the hold: switching back loaded nothing
    expect(loads()).toBe(before);
  });
});
