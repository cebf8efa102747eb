/**
 * POST /v1/promotions/{id}/abort (issue 19, "the instant way back"): a rolling-out promotion taken
 * over and rolled back by the rollback state machine, as a quarantine does it; audited with the
 * principal and the reason. Real HTTP against the local stack.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { highRiskPolicies, ScriptedJudge, settled } from './support.js';

const judge = new ScriptedJudge();
let stack: Stack;
let promoter: string;
let reader: string;
let operator: string;

const register = async (model: string) => (await uploadAndRegister(stack, model, randomBytes(900))).body.artifactId as string;
const servesWhere = async (artifactId: string) => (await stack.api('GET', `/v1/lineage/${artifactId}`)).body.deployments;
const abort = (promotionId: string, body: unknown, token = promoter) =>
  stack.api('POST', `/v1/promotions/${promotionId}/abort`, body, { token });
const promote = (artifactId: string, body: Record<string, unknown>) =>
  stack.api('POST', `/v1/artifacts/${artifactId}/promote`, { reason: 'release', ...body }, { token: promoter });

beforeAll(async () => {
  stack = await startStack({ AEGIS_POLICIES_DIR: await highRiskPolicies('fraud') }, { judge, waitMs: 5 });
  const token = async (principal: string, role: string) =>
    (await stack.api('POST', '/v1/tokens', { principal, role })).body.token as string;
  promoter = await token('alice', 'promoter');
  reader = await token('rita', 'reader');
  operator = await token('olga', 'operator');
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe('POST /v1/promotions/{promotionId}/abort', () => {
  it('aborts a canary mid-window: rolled back with the reason, the route back to stable, the principal audited', async () => {
    const stable = await register('churn');
    expect((await settled(stack, (await promote(stable, { targetEnv: 'canary', canary: { steps: 0 } })).body.promotionId)).status).toBe(
      'succeeded',
    );
    const candidate = await register('churn');
    judge.hold();
    const canary = await promote(candidate, { targetEnv: 'canary', canary: { steps: 2 } });
    expect(canary.status).toBe(201);
    const deadline = Date.now() + 10_000;
    while (!judge.calls.some((w) => w.canaryArtifactId === candidate) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await servesWhere(candidate)).toEqual([{ env: 'canary', role: 'canary', percent: expect.any(Number) }]);

    const res = await abort(canary.body.promotionId, { reason: 'latency alarms on the dashboard' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ promotionId: canary.body.promotionId, kind: 'promote' });
    judge.release();
    const ended = await settled(stack, canary.body.promotionId);
    expect(ended.status).toBe('rolled_back');
    // the promotion says why, in the record and in words
    expect(ended.rollout.reason).toBe('aborted by alice: latency alarms on the dashboard');
    expect(ended.rollout.stageName).toMatch(/: aborted by alice: latency alarms on the dashboard$/);
    expect(await servesWhere(candidate)).toEqual([]);
    expect(await servesWhere(stable)).toEqual([{ env: 'canary', role: 'stable', percent: 100 }]);

    const events = async (type: string) =>
      (await stack.api('GET', `/v1/audit?subject=promotion:${canary.body.promotionId}&type=${type}`)).body.items;
    const [asked] = await events('promotion.abort_requested');
    expect(asked).toMatchObject({
      actor: 'alice',
      payload: { promotionId: canary.body.promotionId, strategy: 'canary', reason: 'latency alarms on the dashboard', targetEnv: 'canary' },
    });
    const end = await events('promotion.rolled_back');
    expect(end).toHaveLength(1);
    expect(end[0].payload.error).toBe('aborted by alice: latency alarms on the dashboard');
    // the rollback machine took the rollout over, named after the abort
    expect(ended.trace.map((t: { state: string }) => t.state)).toContain('RollBack');

    const again = await abort(canary.body.promotionId, { reason: 'twice' });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'CONFLICT', field: 'promotionId' });
    expect(again.body.error.message).toMatch(/is rolled_back: only a rolling_out promotion can be aborted/);
  }, 60_000);

  it('refuses a succeeded and a pending promotion with 409 naming the status', async () => {
    const fraud = await register('fraud');
    const canary = await settled(stack, (await promote(fraud, { targetEnv: 'canary', canary: { steps: 1 } })).body.promotionId);
    expect(canary.status).toBe('succeeded');
    const done = await abort(canary.promotionId, { reason: 'too late' });
    expect(done.status).toBe(409);
    expect(done.body.error.message).toBe(`promotion ${canary.promotionId} is succeeded: only a rolling_out promotion can be aborted`);

    // a high-risk model's promotion to prod waits for approvals
    const pending = await promote(fraud, { targetEnv: 'prod', canary: { steps: 1 } });
    expect(pending.status).toBe(202);
    expect(pending.body).toMatchObject({ status: 'pending_multisig' });
    const waiting = await abort(pending.body.promotionId, { reason: 'not yet' });
    expect(waiting.status).toBe(409);
    expect(waiting.body.error.message).toMatch(/is pending_multisig: only a rolling_out promotion can be aborted/);
    expect((await stack.api('GET', `/v1/promotions/${pending.body.promotionId}`)).body.status).toBe('pending_multisig');
  }, 60_000);

  it('is for promoters and admins only, 404 for an unknown promotion, 400 without a reason', async () => {
    // the role is checked before the promotion is looked up
    for (const token of [reader, operator]) {
      const refused = await abort(randomUUID(), { reason: 'x' }, token);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('FORBIDDEN');
    }
    const unknown = await abort(randomUUID(), { reason: 'x' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.field).toBe('promotionId');
    for (const body of [{}, { reason: '' }]) {
      const bad = await abort(randomUUID(), body);
      expect(bad.status).toBe(400);
      expect(bad.body.error.field).toBe('reason');
    }
    const extra = await abort(randomUUID(), { reason: 'x', force: true });
    expect(extra.status).toBe(400);
    expect(extra.body.error.field).toBe('force');
  });
});
