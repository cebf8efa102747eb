/**
 * Issue 10 on the local stack: the real judge over per-variant metrics, every window stored
 * and shown with its numbers, inconclusive windows held and given up as insufficient-traffic,
 * and the gates (completed canary, rollback target) read from the chain and signed records.
 */
import { randomBytes } from 'node:crypto';
import type { Variant, VariantMetrics } from '../../lib/kernel/canary-metrics.js';
import type { MetricsSource } from '../../lib/platform/ports/canary-metrics.js';
import { MetricsRolloutJudge } from '../../lib/modules/rollout/canary.js';
import { createPrng } from '../../lib/clients/training/prng.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { aegisCli } from '../support/spawn.js';
import { settled } from './support.js';

/** Serves the metrics the test sets for the route's current canary percent, whatever the window; records every query. */
class FixedMetrics implements MetricsSource {
  readonly calls: { variant: Variant; artifactId: string | null; from: Date; to: Date }[] = [];
  percentOf: (key: string) => Promise<number> = async () => 50;
  constructor(public arms: (percent: number) => Record<Variant, VariantMetrics>) {}
  async window(key: string, variant: Variant, artifactId: string | null, from: Date, to: Date): Promise<VariantMetrics> {
    this.calls.push({ variant, artifactId, from, to });
    return this.arms(await this.percentOf(key))[variant];
  }
  async settledUntil(_key: string, now: Date): Promise<Date> {
    return now;
  }
  async agreement(): Promise<{ compared: number; agreed: number }> {
    return { compared: 0, agreed: 0 };
  }
}

const rng = createPrng(10);
const latencies = (n: number, factor = 1) =>
  Array.from({ length: n }, () => Math.round(40 * factor * Math.exp(0.5 * rng.normal()) * 100) / 100);
const arm = (requests: number, errors: number, factor = 1): VariantMetrics => ({
  requests,
  errors,
  latenciesMs: latencies(Math.min(requests, 300), factor),
  quality: { correct: Math.round(requests * 0.9), labelled: requests },
});
/** Healthy arms splitting 2 × perArm requests as the route does (equal at 50 %). */
const healthy =
  (perArm = 1000) =>
  (percent: number) => {
    const canary = Math.round((2 * perArm * percent) / 100);
    return { stable: arm(2 * perArm - canary, 5), canary: arm(canary, 5) };
  };
const failing = () => () => ({ stable: arm(1000, 5), canary: arm(1000, 120) });

const metrics = new FixedMetrics(healthy());
let stack: Stack;
let promoter: string;
let operator: string;
let env: Record<string, string>;

beforeAll(async () => {
  stack = await startStack({}, { judge: new MetricsRolloutJudge(metrics), waitMs: 5 });
  metrics.percentOf = async (key) => {
    const [model, routeEnv] = key.split('/');
    const route = await stack.container.database.db
      .selectFrom('routes')
      .select('canary_percent')
      .where('model_name', '=', model!)
      .where('env', '=', routeEnv!)
      .executeTakeFirst();
    return route?.canary_percent ?? 0;
  };
  promoter = (await stack.api('POST', '/v1/tokens', { principal: 'release-bot', role: 'promoter' })).body.token;
  operator = (await stack.api('POST', '/v1/tokens', { principal: 'on-call', role: 'operator' })).body.token;
  env = { AEGIS_URL: stack.url, AEGIS_DATA_DIR: stack.dataDir, AEGIS_TOKEN: promoter };
});
afterAll(async () => {
  await stack?.stop();
});

async function registered(model: string) {
  const r = await uploadAndRegister(stack, model, randomBytes(900));
  expect(r.status).toBe(201);
  return r.body.artifactId as string;
}
const promote = (artifactId: string, body: Record<string, unknown>) =>
  stack.api('POST', `/v1/registry/${artifactId}/promote`, { reason: 'test', ...body }, { token: promoter });
const rollback = (model: string, body: Record<string, unknown>, token = promoter) =>
  stack.api('POST', `/v1/registry/models/${model}/rollback`, { reason: 'test', ...body }, { token });
const done = async (res: { status: number; body: { promotionId: string } }) => {
  expect(res.status).toBe(201);
  return settled(stack, res.body.promotionId);
};
// 50 % canary: the healthy arms are equal in size, so the sample ratio matches the route
const HALF = { percent: 50, steps: 1, windowSeconds: 60 };

describe('the judge on the local stack', () => {
  it('stores every window with its numbers and shows it in GET /v1/promotions/{id} and aegis promotions --id, the stage in words', async () => {
    metrics.arms = healthy();
    const a = await registered('judged');
    const p = await done(await promote(a, { targetEnv: 'canary', canary: { ...HALF, steps: 2 } }));
    expect(p.status).toBe('succeeded');
    expect(p.rollout).toMatchObject({ stage: 1, stageName: 'promoted to 100 % after 2 canary stages' });
    expect(p.verdicts).toHaveLength(2);
    expect(p.verdicts[0]).toMatchObject({
      seq: 1,
      stage: 0,
      stageName: 'canary stage 1 of 2',
      percent: 50,
      verdict: 'pass',
      reason: 'pass',
      next: 'step-up',
      requests: { stable: 1000, canary: 1000 },
      errors: { stable: 5, canary: 5 },
    });
    expect(p.verdicts[1]).toMatchObject({
      seq: 2,
      stageName: 'canary stage 2 of 2',
      percent: 75,
      next: 'promote',
      requests: { stable: 500, canary: 1500 },
    });
    expect(p.verdicts[0].judgement).toMatchObject({
      verdict: 'pass',
      metrics: {
        requests: { stable: 1000, canary: 1000 },
        errorRate: { test: 'z' },
        latency: { source: 'samples', stable: { n: 300 }, canary: { n: 300 } },
        quality: { judged: true, labelled: { stable: 1000, canary: 1000 } },
        guardrails: { sampleRatio: { checked: true, expectedShare: 0.5, tripped: false }, errorCeiling: { tripped: false } },
      },
      significance: { family: 0.02, comparisons: 3 },
    });
    expect(p.verdicts[0].judgement.metrics.latency.stable.p95).toBeGreaterThan(0);
    const shown = await aegisCli(['promotions', '--id', p.promotionId], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/rollout: promoted to 100 % after 2 canary stages/);
    expect(shown.stdout).toMatch(/window 1 {2}canary stage 1 of 2 at 50% {2}\S+ → \S+ {2}PASS \(pass\) → step-up/);
    expect(shown.stdout).toMatch(/stable 1000 requests 5 errors \(0\.50%\), p95 [\d.]+ ms p99 [\d.]+ ms, quality 90\.00% of 1000 labels/);
    expect(shown.stdout).toMatch(
      /tests {2}errors z p=[\d.e-]+, latency Mann–Whitney \(samples\) p=[\d.e-]+, quality p=[\d.e-]+ \(drop [\d.-]+%\), sample ratio p=/,
    );
    expect(shown.stdout).not.toMatch(/stage -1/);
  });

  it('rolls back naming the check that failed, in the stage name, the window and the audit event', async () => {
    metrics.arms = failing();
    const a = await registered('judged-fail');
    const p = await done(await promote(a, { targetEnv: 'canary', canary: HALF }));
    expect(p.status).toBe('rolled_back');
    expect(p.verdicts).toEqual([expect.objectContaining({ verdict: 'fail', reason: 'errorCeiling', next: 'rollback' })]);
    expect(p.rollout).toMatchObject({ reason: 'errorCeiling', stageName: 'rolled back at canary stage 1 of 1 (50 %): errorCeiling' });
    const ended = (await stack.api('GET', `/v1/audit?subject=promotion:${p.promotionId}&type=promotion.rolled_back`)).body.items;
    expect(ended[0].payload).toMatchObject({ status: 'rolled_back', reason: 'errorCeiling' });
  });

  it('holds the percent over inconclusive windows (one window from the stage start), then rolls back with insufficient-traffic', async () => {
    metrics.arms = healthy(40); // 40 requests per arm, minRequests 200: never enough
    const before = metrics.calls.length;
    const a = await registered('judged-quiet');
    // windowSeconds 0: no route-settling margin, so the stage window starts exactly at the stage start
    const p = await done(await promote(a, { targetEnv: 'canary', canary: { ...HALF, windowSeconds: 0, maxInconclusive: 2 } }));
    expect(p.status).toBe('rolled_back');
    expect(
      p.verdicts.map((v: { verdict: string; reason: string; next: string; percent: number }) => [v.verdict, v.reason, v.next, v.percent]),
    ).toEqual([
      ['inconclusive', 'insufficient-traffic', 'wait', 50],
      ['inconclusive', 'insufficient-traffic', 'wait', 50],
      ['inconclusive', 'insufficient-traffic', 'rollback', 50],
    ]);
    expect(p.rollout).toMatchObject({ reason: 'insufficient-traffic', inconclusive: 3 });
    expect(p.rollout.stageName).toBe('rolled back at canary stage 1 of 1 (50 %): insufficient-traffic');
    // every window of the stage starts where the stage started (and quality is judged from there too)
    const froms = new Set(metrics.calls.slice(before).map((c) => c.from.toISOString()));
    expect(froms.size).toBe(1);
    expect(p.verdicts.map((v: { from: string }) => v.from)).toEqual(Array(3).fill([...froms][0]));
    expect(p.rollout.stageStartedAt).toBe([...froms][0]);
  });

  it('never promotes on a pass with too little traffic: --min-requests is honoured by the judge but not by the prod gate', async () => {
    metrics.arms = healthy(60);
    const a = await registered('judged-thin');
    const cli = await aegisCli(
      [
        '--json',
        'promote',
        '--artifact-id',
        a,
        '--env',
        'canary',
        '--reason',
        'thin',
        '--canary-percent',
        '50',
        '--canary-steps',
        '1',
        '--min-requests',
        '50',
        '--max-inconclusive',
        '1',
        '--rollback-threshold',
        '0.05',
      ],
      env,
    );
    expect(cli.code).toBe(0);
    const requested = JSON.parse(cli.stdout);
    expect(requested.canary).toMatchObject({ minRequests: 50, maxInconclusive: 1, rollbackThreshold: 0.05 });
    const p = await settled(stack, requested.promotionId);
    expect(p.status).toBe('succeeded');
    expect(p.verdicts[0]).toMatchObject({ verdict: 'pass', requests: { stable: 60, canary: 60 } });
    const prod = await promote(a, { targetEnv: 'prod' });
    expect(prod.status).toBe(403);
    expect(prod.body.error.details.rules).toEqual(['prod-requires-completed-canary']);
    expect(prod.body.error.message).toMatch(/at least 200 requests per arm \(best: 60\)/);
  });
});

describe('a canary that must be judged on quality (--min-labelled)', () => {
  /** Healthy arms of 1000 requests each, `labelled` of them labelled. */
  const labelledOnly = (labelled: number) => () => {
    const withLabels = (v: VariantMetrics) => ({ ...v, quality: { correct: Math.round(labelled * 0.9), labelled } });
    return { stable: withLabels(arm(1000, 5)), canary: withLabels(arm(1000, 5)) };
  };

  it('holds a window whose arms lack the labels as inconclusive, then rolls back with insufficient-traffic; passes once they have them', async () => {
    metrics.arms = labelledOnly(20);
    const a = await registered('judged-labels');
    const args = ['--json', 'promote', '--artifact-id', a, '--env', 'canary', '--reason', 'labels', '--canary-percent', '50'];
    const cli = await aegisCli([...args, '--canary-steps', '1', '--min-labelled', '100', '--max-inconclusive', '1'], env);
    expect(cli.code).toBe(0);
    const requested = JSON.parse(cli.stdout);
    expect(requested.canary).toMatchObject({ minLabelled: 100, maxInconclusive: 1 });
    const p = await settled(stack, requested.promotionId);
    expect(p.status).toBe('rolled_back');
    expect(p.verdicts.map((v: { verdict: string; next: string }) => [v.verdict, v.next])).toEqual([
      ['inconclusive', 'wait'],
      ['inconclusive', 'rollback'],
    ]);
    expect(p.verdicts[0].detail).toContain('quality not judged: stable and canary below minLabelled 100 labelled predictions (required)');
    // without --min-labelled the same traffic passes on the other checks (quality not judged)
    const unrequired = await done(await promote(a, { targetEnv: 'canary', canary: { ...HALF, maxInconclusive: 1 } }));
    expect(unrequired).toMatchObject({ status: 'succeeded', verdicts: [{ verdict: 'pass' }] });

    metrics.arms = labelledOnly(100);
    const b = await registered('judged-labels');
    const labelled = await done(await promote(b, { targetEnv: 'canary', canary: { ...HALF, minLabelled: 100 } }));
    expect(labelled).toMatchObject({ status: 'succeeded', verdicts: [{ verdict: 'pass' }] });
    expect(labelled.verdicts[0].judgement.metrics.quality).toMatchObject({ judged: true, labelled: { stable: 100, canary: 100 } });
  });

  it('refuses a minLabelled that is not a positive integer, naming canary.minLabelled; nothing is requested', async () => {
    const a = await registered('judged-labels-bad');
    for (const minLabelled of [0, 1.5, '50']) {
      const r = await promote(a, { targetEnv: 'canary', canary: { ...HALF, minLabelled } });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'canary.minLabelled' });
    }
    const listed = await stack.api('GET', `/v1/artifacts/${a}/promotions`);
    expect(listed.body.items).toEqual([]);
  });
});

describe('gates that cannot be walked around', () => {
  it('refuses staging → canary with steps 0 → prod, naming prod-requires-completed-canary; allows prod after a canary that served and passed', async () => {
    metrics.arms = healthy();
    const a = await registered('gate-zero');
    expect((await done(await promote(a, { targetEnv: 'staging' }))).status).toBe('succeeded');
    const zero = await done(await promote(a, { targetEnv: 'canary', canary: { steps: 0 } }));
    expect(zero).toMatchObject({
      status: 'succeeded',
      verdicts: [],
      rollout: { stage: null, stageName: 'applied at 100 % without a canary (steps 0)' },
    });
    const prod = await promote(a, { targetEnv: 'prod' });
    expect(prod.status).toBe(403);
    expect(prod.body.error).toMatchObject({ code: 'POLICY_DENIED', details: { rules: ['prod-requires-completed-canary'] } });
    expect(prod.body.error.message).toMatch(/best: 0/);

    expect((await done(await promote(a, { targetEnv: 'canary', canary: HALF }))).status).toBe('succeeded');
    expect((await done(await promote(a, { targetEnv: 'prod', canary: HALF }))).status).toBe('succeeded');
  });

  it('refuses a rollback to an artifact that never served the environment, naming rollback-to-served-artifact; an operator may roll back to one that did', async () => {
    const [first, second, never] = [await registered('gate-rb'), await registered('gate-rb'), await registered('gate-rb')];
    await done(await promote(first, { targetEnv: 'staging' }));
    await done(await promote(second, { targetEnv: 'staging' }));

    const refused = await rollback('gate-rb', { targetEnv: 'staging', toArtifactId: never });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'POLICY_DENIED', details: { rules: ['rollback-to-served-artifact'] } });
    expect(refused.body.error.message).toMatch(/never served gate-rb in staging/);
    const byOperator = await rollback('gate-rb', { targetEnv: 'staging', toArtifactId: never }, operator);
    expect(byOperator.body.error.details.rules).toEqual(['rollback-to-served-artifact']);
    const critical = await rollback('gate-rb', { targetEnv: 'staging', toArtifactId: never, critical: true }, operator);
    expect(critical.body.error.details.rules).toEqual(['operator-rollback-non-critical']);

    const ok = await rollback('gate-rb', { targetEnv: 'staging', toArtifactId: first }, operator);
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({
      kind: 'rollback',
      requestedBy: 'on-call',
      policyDecision: { decision: 'allow', rules: ['promoter-default-permit'] },
    });
    expect((await settled(stack, ok.body.promotionId)).status).toBe('succeeded');

    // a promoter's critical rollback to an artifact that never served goes to multisig instead
    const multisig = await rollback('gate-rb', { targetEnv: 'staging', toArtifactId: never, critical: true });
    expect(multisig.status).toBe(202);
    expect(multisig.body.policyDecision).toMatchObject({ decision: 'require_multisig', rules: ['critical-rollback-multisig'] });
  });

  it('refuses prod when a rolled-back canary is edited to succeeded in the database, naming gate-evidence-verified', async () => {
    metrics.arms = failing();
    const a = await registered('gate-forged');
    const canary = await done(await promote(a, { targetEnv: 'canary', canary: HALF }));
    expect(canary.status).toBe('rolled_back');
    await stack.container.database.db
      .updateTable('promotions')
      .set({ status: 'succeeded' })
      .where('promotion_id', '=', canary.promotionId)
      .execute();

    const prod = await promote(a, { targetEnv: 'prod' });
    expect(prod.status).toBe(403);
    expect(prod.body.error.details.rules).toEqual(['prod-requires-completed-canary', 'gate-evidence-verified']);
    expect(prod.body.error.message).toContain(
      `promotion ${canary.promotionId} (promote to canary) is stored as succeeded, but the audit chain says rolled_back`,
    );
    // and a rollback to it, as if it had served canary, is refused the same way
    const rb = await rollback('gate-forged', { targetEnv: 'canary', toArtifactId: a });
    expect(rb.body.error.details.rules).toEqual(['rollback-to-served-artifact', 'gate-evidence-verified']);
  });

  it('refuses prod when the judged request counts in the chain were edited, naming gate-evidence-verified', async () => {
    metrics.arms = healthy(60);
    const a = await registered('gate-edited-chain');
    const canary = await done(await promote(a, { targetEnv: 'canary', canary: { ...HALF, minRequests: 50 } }));
    expect(canary.status).toBe('succeeded');
    const db = stack.container.database.db;
    const step = await db
      .selectFrom('audit_events')
      .select(['seq', 'payload'])
      .where('subject', '=', `promotion:${canary.promotionId}`)
      .where('type', '=', 'promotion.step')
      .where('payload', 'like', '%"window"%')
      .executeTakeFirstOrThrow();
    await db
      .updateTable('audit_events')
      .set({ payload: step.payload.replaceAll('"canary":60,"stable":60', '"canary":6000,"stable":6000') })
      .where('seq', '=', step.seq)
      .execute();

    const prod = await promote(a, { targetEnv: 'prod' });
    expect(prod.status).toBe(403);
    expect(prod.body.error.details.rules).toEqual(['prod-requires-completed-canary', 'gate-evidence-verified']);
    expect(prod.body.error.message).toMatch(
      new RegExp(`audit event ${step.seq} \\(promotion.step\\) .* its content does not match its signed hash`),
    );
  });
});
