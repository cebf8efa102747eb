import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Principal } from '../../lib/kernel/identity.js';
import type { PromotionDetail } from '../../lib/modules/promotion/reads.js';
import { PgliteDatabase } from '../../lib/platform/adapters/sql/pglite.js';
import { migrateToLatest } from '../../lib/platform/sql/migrations.js';
import { diffSnapshots, registrySnapshot } from '../../lib/recovery/parity.js';
import { rebuildIndex } from '../../lib/recovery/rebuild.js';
import { recoveryDeps } from '../recovery/support.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { FakeWarmer, ScriptedJudge, ShiftedClock } from './support.js';

// Promotions are requested through the service (the strategy fields of the promotion reply are
// the API surface's, documented separately); the rollout runs the real ASL in-process.
const principal: Principal = { id: 'release-bot', role: 'promoter', scope: 'global' };
const judge = new ScriptedJudge();
const warmer = new FakeWarmer();
const clock = new ShiftedClock();
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({}, { judge, warmer, clock, waitMs: 5 });
});
afterAll(async () => {
  await stack?.stop();
});

async function registered(s: Stack, model: string): Promise<string> {
  const r = await uploadAndRegister(s, model, randomBytes(900));
  expect(r.status).toBe(201);
  return r.body.artifactId as string;
}

type Request = Parameters<Stack['container']['promotions']['promote']>[1];
const promote = (s: Stack, artifactId: string, req: Omit<Request, 'reason'>) =>
  s.container.promotions.promote(artifactId, { reason: 'strategies test', ...req } as Request, principal);

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not reached after ${timeoutMs} ms (${JSON.stringify(v).slice(0, 500)})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const detail = (s: Stack, id: string) => s.container.promotions.get(id) as Promise<PromotionDetail>;
const ended = (s: Stack, id: string) =>
  until(
    () => detail(s, id),
    (p) => !['rolling_out', 'pending_multisig'].includes(p.status),
    `promotion ${id} ends`,
  );
const states = (p: PromotionDetail) => (p.trace as { state: string }[]).map((t) => t.state);
const route = (s: Stack, model: string, env = 'staging') => s.container.rollout.route(model, env);

/** The `route` of every `promotion.step` event of the promotion, from the audit chain. */
async function chainedRoutes(s: Stack, promotionId: string): Promise<Record<string, unknown>[]> {
  const items = (await s.api('GET', `/v1/audit?subject=promotion:${promotionId}&limit=500`)).body.items as {
    type: string;
    payload: { route?: Record<string, unknown> };
  }[];
  return items.filter((e) => e.type === 'promotion.step').map((e) => e.payload.route ?? {});
}

/** A candidate of `model` for `env`, where a first artifact of the model serves already (a shadow needs answers to compare with). */
async function candidateBeside(model: string, env: 'staging' | 'canary' | 'prod' = 'canary'): Promise<string> {
  const base = await registered(stack, model);
  expect((await ended(stack, (await promote(stack, base, { targetEnv: env, canary: { steps: 0 } })).promotionId)).status).toBe('succeeded');
  return registered(stack, model);
}

/** A model whose stable (blue) in staging is a first artifact; the second, green, is returned too. */
async function blueAndGreen(model: string) {
  const blue = await registered(stack, model);
  expect((await ended(stack, (await promote(stack, blue, { targetEnv: 'staging' })).promotionId)).status).toBe('succeeded');
  return { blue, green: await registered(stack, model) };
}

describe('blue-green rollouts', () => {
  it('rolls back without moving any traffic when the warm-up fails, naming why', async () => {
    const { blue, green } = await blueAndGreen('bg-cold');
    warmer.failing.add('bg-cold');
    const p = await promote(stack, green, {
      targetEnv: 'staging',
      strategy: 'blue-green',
      blueGreen: { holdSeconds: 600, warmUpRequests: 5 },
    });
    const done = await ended(stack, p.promotionId);
    expect(done.status).toBe('rolled_back');
    expect(states(done)).toEqual(['StartCanary', 'WarmUp', 'RollBack']);
    expect(done.rollout).toMatchObject({ phase: 'warming', reason: 'warm-up failed: request 3 of 5: model error' });
    expect(done.rollout!.stageName).toBe('warm-up failed: request 3 of 5: model error');
    expect(warmer.calls.filter((c) => c.modelName === 'bg-cold')).toEqual([
      { modelName: 'bg-cold', env: 'staging', artifactId: green, requests: 5 },
    ]);
    expect(await route(stack, 'bg-cold')).toMatchObject({ stable: blue, canary: null, percent: 0, shadow: null });
    const routes = await chainedRoutes(stack, p.promotionId);
    expect(routes).toEqual([{}, {}]);
    expect(JSON.stringify(routes)).not.toContain(green);
  });

  it('switches 100 % at once after a warm-up, holds blue routable, then releases it', async () => {
    const { blue, green } = await blueAndGreen('bg-warm');
    const p = await promote(stack, green, {
      targetEnv: 'staging',
      strategy: 'blue-green',
      blueGreen: { holdSeconds: 600, warmUpRequests: 4 },
    });
    const held = await until(
      () => detail(stack, p.promotionId),
      (d) => d.rollout?.phase === 'hold',
      'the hold',
    );
    expect(await route(stack, 'bg-warm')).toMatchObject({ stable: blue, canary: green, percent: 100 });
    expect(held.rollout).toMatchObject({ percent: 100, windowSeconds: 600 });
    expect(held.rollout!.stageName).toMatch(/^blue-green hold: green serves 100 %, blue routable until /);
    expect(held.status).toBe('rolling_out');
    const steps = (await stack.api('GET', `/v1/audit?subject=promotion:${p.promotionId}`)).body.items.filter(
      (e: { type: string }) => e.type === 'promotion.step',
    );
    expect(steps[1].payload).toMatchObject({
      action: 'warmUp',
      phase: 'hold',
      route: { canary_artifact_id: green, canary_percent: 100 },
      warmUp: { ok: true, answered: 4, requests: 4, inputs: 'synthetic' },
    });
    clock.advance(601_000); // the hold elapses
    const done = await ended(stack, p.promotionId);
    expect(done.status).toBe('succeeded');
    expect(done.rollout!.stageName).toBe('switched; blue released');
    expect(states(done).slice(0, 2)).toEqual(['StartCanary', 'WarmUp']);
    expect(states(done).at(-1)).toBe('PromoteFully');
    expect(await route(stack, 'bg-warm')).toMatchObject({ stable: green, canary: null, percent: 0 });
  });

  it('rolls back during the hold as a route change: blue serves again', async () => {
    const { blue, green } = await blueAndGreen('bg-back');
    const p = await promote(stack, green, {
      targetEnv: 'staging',
      strategy: 'blue-green',
      blueGreen: { holdSeconds: 600, warmUpRequests: 2 },
    });
    await until(
      () => detail(stack, p.promotionId),
      (d) => d.rollout?.phase === 'hold',
      'the hold',
    );
    expect(await route(stack, 'bg-back')).toMatchObject({ stable: blue, canary: green, percent: 100 });
    // as quarantine enforcement takes a rollout over (lib/modules/quarantine/enforce.ts)
    await stack.container.rollout.expireLease(p.promotionId);
    await stack.container.workflows.start('rollback', `${p.promotionId}-back`, {
      promotionId: p.promotionId,
      error: { Error: 'Aegis.Aborted', Cause: 'green answers wrong' },
    });
    const done = await ended(stack, p.promotionId);
    expect(done.status).toBe('rolled_back');
    expect(done.rollout!.stageName).toBe('rolled back during the blue-green hold: blue serves again: green answers wrong');
    expect(await route(stack, 'bg-back')).toMatchObject({ stable: blue, canary: null, percent: 0 });
    expect(states(done).filter((s) => s === 'PromoteFully')).toEqual([]);
  });
});

describe('shadow rollouts', () => {
  it('mirrors first, then runs the canary stages and promotes; the artifact is reported as a shadow meanwhile', async () => {
    const base = await registered(stack, 'sh-pass');
    expect((await ended(stack, (await promote(stack, base, { targetEnv: 'canary', canary: { steps: 0 } })).promotionId)).status).toBe(
      'succeeded',
    );
    const artifactId = await registered(stack, 'sh-pass');
    judge.hold(); // the first shadow window is held while the lineage is read
    const p = await promote(stack, artifactId, {
      targetEnv: 'canary',
      canary: { percent: 10, steps: 2, windowSeconds: 60 },
      strategy: 'shadow',
      shadow: { percent: 50, windows: 2 },
    });
    await until(
      async () => judge.calls.filter((c) => c.promotionId === p.promotionId).length,
      (n) => n === 1,
      'the first window',
    );
    expect(await route(stack, 'sh-pass', 'canary')).toMatchObject({ stable: base, canary: null, shadow: artifactId, shadowPercent: 50 });
    expect((await stack.api('GET', `/v1/lineage/${artifactId}`)).body.deployments).toEqual([
      { env: 'canary', role: 'shadow', percent: 50 },
    ]);
    expect((await detail(stack, p.promotionId)).rollout!.stageName).toBe('shadow window 1 of 2 at 50 % mirrored');
    judge.release();
    const done = await ended(stack, p.promotionId);
    expect(done.status).toBe('succeeded');
    expect(states(done)).toEqual(['StartCanary', 'Evaluate', 'Evaluate', 'StepUp', 'Evaluate', 'StepUp', 'Evaluate', 'PromoteFully']);
    const calls = judge.calls.filter((c) => c.promotionId === p.promotionId);
    expect(calls.map((c) => [c.arm ?? 'canary', c.percent, c.minAgreement])).toEqual([
      ['shadow', 50, 0.9],
      ['shadow', 50, 0.9],
      ['canary', 10, undefined],
      ['canary', 55, undefined],
    ]);
    expect(done.verdicts.map((v) => [v.phase ?? null, v.stageName, v.agreement?.rate ?? null])).toEqual([
      ['shadow', 'shadow', 1],
      ['shadow', 'shadow', 1],
      [null, 'canary stage 1 of 2', null],
      [null, 'canary stage 2 of 2', null],
    ]);
    expect(await chainedRoutes(stack, p.promotionId)).toEqual([
      { shadow_artifact_id: artifactId, shadow_percent: 50 },
      {},
      {},
      { shadow_artifact_id: null, shadow_percent: 0, canary_artifact_id: artifactId, canary_percent: 10 },
      {},
      { canary_percent: 55 },
      {},
    ]);
    expect(await route(stack, 'sh-pass', 'canary')).toMatchObject({ stable: artifactId, canary: null, shadow: null, shadowPercent: 0 });
  });

  it.each([
    ['disagree', 'shadow: agreement'],
    ['fail', 'shadow: errorRate'],
  ] as const)(
    'discards the candidate when a shadow window says %s: rolled back, the shadow cleared, never a canary',
    async (verdict, reason) => {
      const model = `sh-${verdict}`;
      const artifactId = await candidateBeside(model);
      judge.script.push(verdict);
      const p = await promote(stack, artifactId, { targetEnv: 'canary', canary: { steps: 2 }, strategy: 'shadow' });
      const done = await ended(stack, p.promotionId);
      expect(done.status).toBe('rolled_back');
      expect(done.rollout).toMatchObject({ phase: 'shadow', reason });
      expect(done.rollout!.stageName).toBe(`discarded after ${reason}`);
      expect(states(done)).toEqual(['StartCanary', 'Evaluate', 'RollBack']);
      expect(done.verdicts).toHaveLength(1);
      expect(done.verdicts[0]).toMatchObject({ phase: 'shadow', verdict: 'fail' });
      expect(await route(stack, model, 'canary')).toMatchObject({ canary: null, shadow: null, shadowPercent: 0 });
      expect(JSON.stringify(await chainedRoutes(stack, p.promotionId))).not.toContain('canary_artifact_id');
    },
  );

  it("switches 100 % straight after the shadow when its settings say 'promote'", async () => {
    const artifactId = await candidateBeside('sh-direct');
    const p = await promote(stack, artifactId, {
      targetEnv: 'canary',
      canary: { steps: 3 },
      strategy: 'shadow',
      shadow: { windows: 1, then: 'promote' },
    });
    const done = await ended(stack, p.promotionId);
    expect(done.status).toBe('succeeded');
    expect(states(done)).toEqual(['StartCanary', 'Evaluate', 'PromoteFully']);
    expect(done.rollout!.stageName).toBe('promoted to 100 % after 1 passing shadow window');
    expect(JSON.stringify(await chainedRoutes(stack, p.promotionId))).not.toContain('canary_artifact_id');
    expect(await route(stack, 'sh-direct', 'canary')).toMatchObject({ stable: artifactId, canary: null, shadow: null });
  });

  it('does not count passing shadow windows as the completed canary prod requires: mirrored copies reached no caller', async () => {
    const artifactId = await candidateBeside('sh-no-canary');
    const p = await promote(stack, artifactId, { targetEnv: 'canary', strategy: 'shadow', shadow: { windows: 2, then: 'promote' } });
    const done = await ended(stack, p.promotionId);
    expect(done.status).toBe('succeeded');
    expect(done.verdicts.filter((v) => v.verdict === 'pass')).toHaveLength(2);
    const prod = promote(stack, artifactId, { targetEnv: 'prod' });
    await expect(prod).rejects.toMatchObject({ code: 'POLICY_DENIED', message: expect.stringMatching(/canary/) });
  });
});

describe('strategies and the rest of the rollout', () => {
  it('refuses a shadow where nothing serves: there are no answers to compare it with (409 naming strategy)', async () => {
    const artifactId = await registered(stack, 'sh-alone');
    await expect(promote(stack, artifactId, { targetEnv: 'canary', strategy: 'shadow' })).rejects.toMatchObject({
      code: 'CONFLICT',
      field: 'strategy',
      message: expect.stringMatching(/^nothing serves sh-alone in canary: a shadow has no answers to be compared with/),
    });
  });

  it('resumes a blue-green hold after a restart: the rest of the hold, no second warm-up, no early promotion', async () => {
    const w = new FakeWarmer();
    const a = await startStack({}, { judge: new ScriptedJudge(), warmer: w, waitMs: 5 });
    const dataDir = a.dataDir;
    const blue = await registered(a, 'bg-resume');
    await ended(a, (await promote(a, blue, { targetEnv: 'staging' })).promotionId);
    const green = await registered(a, 'bg-resume');
    const p = await promote(a, green, { targetEnv: 'staging', strategy: 'blue-green', blueGreen: { holdSeconds: 900, warmUpRequests: 3 } });
    await until(
      () => detail(a, p.promotionId),
      (d) => d.rollout?.phase === 'hold',
      'the hold',
    );
    await a.close();

    const later = new ShiftedClock();
    const b = await startStack({}, { judge: new ScriptedJudge(), warmer: w, waitMs: 5, dataDir, clock: later });
    try {
      const resumed = await until(
        () => detail(b, p.promotionId),
        (d) => (d.trace as { state: string; output: unknown }[]).filter((t) => t.state === 'StartCanary' && t.output).length === 2,
        'the resumed start',
      );
      const starts = (resumed.trace as { state: string; output: Record<string, unknown> }[]).filter((t) => t.state === 'StartCanary');
      expect(starts[1]!.output).toMatchObject({ phase: 'hold', next: 'wait', percent: 100 });
      expect(starts[1]!.output.windowSeconds).toBeGreaterThan(850);
      expect(starts[1]!.output.windowSeconds).toBeLessThanOrEqual(900);
      expect(resumed.status).toBe('rolling_out');
      expect(await route(b, 'bg-resume')).toMatchObject({ stable: blue, canary: green, percent: 100 });
      later.advance(901_000);
      const done = await ended(b, p.promotionId);
      expect(done.status).toBe('succeeded');
      expect(states(done).filter((s) => s === 'WarmUp')).toEqual(['WarmUp']);
      expect(w.calls).toHaveLength(1);
      expect(await route(b, 'bg-resume')).toMatchObject({ stable: green, canary: null });
    } finally {
      await b.stop();
    }
  });

  it('rebuilds the routes and the judged shadow windows from the chain: parity finds no difference', async () => {
    await stack.container.auditTrail.archive();
    const dir = await mkdtemp(join(tmpdir(), 'aegis-rebuilt-'));
    const target = await PgliteDatabase.open(join(dir, 'pg'));
    try {
      await migrateToLatest(target.db);
      const report = await rebuildIndex(recoveryDeps(stack, target), { verifyBytes: false });
      expect(report.problems).toEqual([]);
      const [left, right] = [await registrySnapshot(stack.container.database), await registrySnapshot(target)];
      expect(diffSnapshots(left, right)).toEqual([]);
      expect(JSON.stringify(right)).toContain('"phase":"shadow"');
    } finally {
      await target.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
