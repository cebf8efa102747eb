import { randomBytes } from 'node:crypto';
import { LeaseLostError } from '../../lib/modules/rollout/service.js';
import type { LocalWorkflows } from '../../lib/platform/adapters/workflows/asl.js';
import { FakeTimers } from '../support/fake-timers.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { ScriptedJudge } from './support.js';

async function until(check: () => Promise<boolean> | boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

let now = Date.parse('2026-11-29T12:00:00.000Z');
const clock = { now: () => new Date(now) };
const judge = new ScriptedJudge();
let stack: Stack;

beforeAll(async () => {
  // fake scheduler timers: the takeover sweep runs only when the test says so
  stack = await startStack({ AEGIS_ROLLOUT_LEASE_SECONDS: '30' }, { judge, waitMs: 5, clock, timers: new FakeTimers() });
});
afterAll(async () => {
  await stack?.stop();
});

const lease = (promotionId: string) =>
  stack.container.database.db.selectFrom('rollout_leases').selectAll().where('promotion_id', '=', promotionId).executeTakeFirstOrThrow();
const steps = (promotionId: string) =>
  stack.container.database.db.selectFrom('promotion_steps').selectAll().where('promotion_id', '=', promotionId).orderBy('step').execute();
const verdicts = (promotionId: string) =>
  stack.container.database.db.selectFrom('canary_verdicts').selectAll().where('promotion_id', '=', promotionId).execute();
const events = async (promotionId: string) =>
  (
    await stack.container.database.db
      .selectFrom('audit_events')
      .select(['type', 'payload'])
      .where('subject', '=', `promotion:${promotionId}`)
      .orderBy('seq')
      .execute()
  ).map((e) => ({ type: e.type, action: (JSON.parse(e.payload) as { action?: string }).action }));

describe('the rollout lease: one runner advances a rollout', () => {
  it("refuses a second runner while the lease holds, lets it take over once expired, and refuses the stale runner's late writes (recorded, nothing applied)", async () => {
    const artifactId = (await uploadAndRegister(stack, 'leased', randomBytes(700))).body.artifactId;
    judge.hold(); // the first window's verdict arrives only when the test releases it
    const res = await stack.api('POST', `/v1/registry/${artifactId}/promote`, {
      targetEnv: 'canary',
      reason: 'lease',
      canary: { percent: 50, steps: 1, windowSeconds: 60 },
    });
    expect(res.status).toBe(201);
    const promotionId = res.body.promotionId as string;
    await until(() => judge.calls.length === 1); // the server's own execution is judging its window
    const first = await lease(promotionId);
    expect(first).toMatchObject({ token: 1 });
    expect(first.holder).toMatch(/^local-[0-9a-f-]+\/[0-9a-f-]+$/);
    // through the wait after start and the lease seconds (the evaluate step renewed it, never shortening it)
    expect(new Date(first.expires_at).getTime()).toBe(now + (60 + 30) * 1000);

    // a second runner (another server's execution) while the lease holds: refused before it judges anything
    const refused = stack.container.rollout.step({ action: 'evaluate', promotionId, runner: 'other-server/exec-b' });
    await expect(refused).rejects.toBeInstanceOf(LeaseLostError);
    await expect(refused).rejects.toMatchObject({
      name: 'Aegis.LeaseLost',
      code: 'LEASE_LOST',
      details: { holder: first.holder, token: 1 },
    });
    expect(judge.calls).toHaveLength(1);
    expect((await steps(promotionId)).at(-1)).toMatchObject({
      runner: 'other-server/exec-b',
      lease_token: null,
      error: expect.stringContaining(`${first.holder} holds it (token 1)`),
    });
    // the takeover sweep leaves a held rollout alone
    expect(await stack.container.scheduler.run('rollout-takeover')).toEqual([]);

    // the holder stalls past its lease (the wait after start, plus the lease seconds): another runner takes over
    now += (60 + 30 + 1) * 1000;
    const resumed = await stack.container.rollout.step({ action: 'start', promotionId, runner: 'other-server/exec-b' });
    expect(resumed).toMatchObject({ stage: 0, percent: 50, next: 'wait', windowSeconds: 0 }); // its window already elapsed
    expect(await lease(promotionId)).toMatchObject({ holder: 'other-server/exec-b', token: 2 });

    // the stale runner's verdict arrives: its step is refused inside its transaction, nothing of it written,
    // and its execution ends quietly (Superseded), without rolling the canary back
    judge.release();
    await (stack.container.workflows as LocalWorkflows).settled(promotionId);
    const stale = (await steps(promotionId)).find((s) => s.runner === first.holder && s.state === 'Evaluate');
    expect(stale).toMatchObject({ lease_token: 1, output: null, error: expect.stringContaining('lost the lease') });
    expect((await steps(promotionId)).map((s) => s.state)).not.toContain('RollBack');
    expect(await verdicts(promotionId)).toEqual([]);
    expect(await events(promotionId)).toEqual([
      { type: 'promotion.requested', action: undefined },
      { type: 'promotion.step', action: 'start' },
    ]);
    expect((await stack.api('GET', `/v1/promotions/${promotionId}`)).body.status).toBe('rolling_out');

    // the new holder advances it: one verdict, one applied record
    now += 60_000;
    expect(await stack.container.rollout.step({ action: 'evaluate', promotionId, runner: 'other-server/exec-b' })).toMatchObject({
      verdict: 'pass',
      next: 'promote',
    });
    // a stale runner can no more finish it than judge it
    await expect(stack.container.rollout.step({ action: 'promoteFully', promotionId, runner: first.holder })).rejects.toMatchObject({
      code: 'LEASE_LOST',
    });
    expect(await stack.container.rollout.step({ action: 'promoteFully', promotionId, runner: 'other-server/exec-b' })).toMatchObject({
      next: 'done',
      percent: 100,
    });
    expect((await stack.api('GET', `/v1/promotions/${promotionId}`)).body.status).toBe('succeeded');
    expect(await verdicts(promotionId)).toHaveLength(1);
    expect((await events(promotionId)).map((e) => e.action ?? e.type)).toEqual([
      'promotion.requested',
      'start',
      'evaluate',
      'promotion.applied',
    ]);
    expect((await stack.api('GET', '/v1/audit/verify')).body.ok).toBe(true);
  });

  it("gives the lease up on a graceful stop, so another runner resumes at once; a stopped runner's late step is refused", async () => {
    const artifactId = (await uploadAndRegister(stack, 'released', randomBytes(700))).body.artifactId;
    const judged = judge.calls.length;
    judge.hold();
    const res = await stack.api('POST', `/v1/registry/${artifactId}/promote`, {
      targetEnv: 'canary',
      reason: 'release',
      canary: { percent: 50, steps: 1, windowSeconds: 60 },
    });
    const promotionId = res.body.promotionId as string;
    await until(() => judge.calls.length === judged + 1); // this rollout's execution is judging its window
    const held = await lease(promotionId);
    await stack.container.rollout.release(promotionId, held.holder);
    // released: free now, without waiting for the expiry
    expect(new Date((await lease(promotionId)).expires_at).getTime()).toBe(now);
    expect(await stack.container.rollout.step({ action: 'start', promotionId, runner: 'successor/exec' })).toMatchObject({ next: 'wait' });
    expect(await lease(promotionId)).toMatchObject({ holder: 'successor/exec', token: held.token + 1 });
    judge.release();
    await (stack.container.workflows as LocalWorkflows).settled(promotionId);
    expect(await verdicts(promotionId)).toEqual([]);
    expect((await stack.api('GET', `/v1/promotions/${promotionId}`)).body.status).toBe('rolling_out');
  });

  it('takes a rollout away for good: the old holder stepping first after expireLease is refused, and the rollback runner takes it over', async () => {
    const artifactId = (await uploadAndRegister(stack, 'taken-away', randomBytes(700))).body.artifactId;
    const judged = judge.calls.length;
    judge.hold();
    const res = await stack.api('POST', `/v1/registry/${artifactId}/promote`, {
      targetEnv: 'canary',
      reason: 'take away',
      canary: { percent: 50, steps: 1, windowSeconds: 60 },
    });
    const promotionId = res.body.promotionId as string;
    await until(() => judge.calls.length === judged + 1);
    const held = await lease(promotionId);
    await stack.container.rollout.expireLease(promotionId);
    expect(await lease(promotionId)).toMatchObject({ holder: `revoked:${held.holder}`, token: held.token });
    // the old holder's next step comes before the rollback's: refused, not renewed (it was, before the holder was marked)
    await expect(stack.container.rollout.step({ action: 'evaluate', promotionId, runner: held.holder })).rejects.toMatchObject({
      code: 'LEASE_LOST',
    });
    // taking it away twice keeps the one mark
    await stack.container.rollout.expireLease(promotionId);
    expect((await lease(promotionId)).holder).toBe(`revoked:${held.holder}`);
    expect(await stack.container.rollout.step({ action: 'rollback', promotionId, runner: 'rollback/exec' })).toMatchObject({
      next: 'done',
    });
    expect(await lease(promotionId)).toMatchObject({ holder: 'rollback/exec', token: held.token + 1 });
    // its step in flight when the rollout was taken away writes nothing
    judge.release();
    await (stack.container.workflows as LocalWorkflows).settled(promotionId);
    expect(await verdicts(promotionId)).toEqual([]);
    expect((await stack.api('GET', `/v1/promotions/${promotionId}`)).body.status).toBe('rolled_back');
  });

  it('names the field when a step has no runner', async () => {
    await expect(stack.container.rollout.step({ action: 'start', promotionId: 'p-none' } as never)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      field: 'runner',
    });
  });
});
