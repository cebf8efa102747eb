import { randomBytes } from 'node:crypto';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { approve, approverKey, ScriptedJudge, settled, type Approver } from './support.js';

const judge = new ScriptedJudge();

async function register(stack: Stack, model: string): Promise<string> {
  const r = await uploadAndRegister(stack, model, randomBytes(900));
  expect(r.status).toBe(201);
  return r.body.artifactId as string;
}

/** Promotes through a judged canary to prod (the prod gate needs a completed canary). */
async function toProd(stack: Stack, artifactId: string, token: string) {
  for (const targetEnv of ['canary', 'prod']) {
    const res = await stack.api(
      'POST',
      `/v1/artifacts/${artifactId}/promote`,
      { targetEnv, reason: 'release', canary: { steps: 1 } },
      { token },
    );
    expect(res.status).toBe(201);
    expect((await settled(stack, res.body.promotionId)).status).toBe('succeeded');
  }
}

const servesWhere = async (stack: Stack, artifactId: string) => (await stack.api('GET', `/v1/lineage/${artifactId}`)).body.deployments;

describe('quarantine of a compromised artifact', () => {
  let stack: Stack;
  let promoter: string;
  let security: string;
  let desk: string;
  let approvers: Approver[];
  let a1: string;
  let a2: string;

  beforeAll(async () => {
    stack = await startStack({}, { judge, waitMs: 5 });
    const token = async (principal: string, role: string) =>
      (await stack.api('POST', '/v1/tokens', { principal, role })).body.token as string;
    promoter = await token('alice', 'promoter');
    security = await token('sam', 'security');
    desk = await token('approvals-desk', 'approver');
    approvers = Array.from({ length: 3 }, (_, i) => approverKey(`approver-${i + 1}`, `approver${i + 1}@example.com`));
    for (const a of approvers)
      expect(
        (await stack.api('POST', '/v1/keys', { kid: a.kid, purpose: 'approver', publicKey: a.publicKey, owner: a.owner })).status,
      ).toBe(201);
    a1 = await register(stack, 'churn');
    a2 = await register(stack, 'churn');
    await toProd(stack, a1, promoter);
    await toProd(stack, a2, promoter);
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('refuses bad input naming the field, unknown artifacts and roles that may not quarantine', async () => {
    const noReason = await stack.api('POST', `/v1/artifacts/${a2}/quarantine`, {}, { token: security });
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.field).toBe('reason');
    const badId = await stack.api('POST', '/v1/artifacts/not-a-uuid/quarantine', { reason: 'x' }, { token: security });
    expect(badId.status).toBe(400);
    expect(badId.body.error.field).toBe('artifactId');
    const unknown = await stack.api('POST', `/v1/artifacts/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/quarantine`, { reason: 'x' });
    expect(unknown.status).toBe(404);
    expect((await stack.api('POST', `/v1/artifacts/${a2}/quarantine`, { reason: 'x' }, { token: promoter })).status).toBe(403);
    // security reads the audit log but never promotes
    expect((await stack.api('GET', '/v1/audit?limit=1', undefined, { token: security })).status).toBe(200);
    expect(
      (await stack.api('POST', `/v1/artifacts/${a1}/promote`, { targetEnv: 'staging', reason: 'x' }, { token: security })).status,
    ).toBe(403);
  });

  it('quarantining the stable artifact of prod rolls prod back to the previous one, audited and signed', async () => {
    expect(await servesWhere(stack, a2)).toEqual(expect.arrayContaining([{ env: 'prod', role: 'stable', percent: 100 }]));
    const res = await stack.api('POST', `/v1/artifacts/${a2}/quarantine`, { reason: 'training data poisoned' }, { token: security });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ quarantined: true, quarantine: { quarantinedBy: 'sam', reason: 'training data poisoned' } });
    const [req] = res.body.requests;
    expect(req).toMatchObject({ action: 'quarantine', status: 'applied', recordSignature: { alg: 'ed25519' } });
    const prod = req.effects.find((e: { env: string }) => e.env === 'prod');
    expect(prod).toMatchObject({ kind: 'stable-rolled-back', toArtifactId: a1 });
    const rollback = await settled(stack, prod.promotionId);
    expect(rollback).toMatchObject({ kind: 'rollback', artifactId: a1, targetEnv: 'prod', status: 'succeeded', requestedBy: 'sam' });
    expect(rollback.reason).toContain('training data poisoned');
    expect(await servesWhere(stack, a1)).toEqual(expect.arrayContaining([{ env: 'prod', role: 'stable', percent: 100 }]));
    expect(await servesWhere(stack, a2)).toEqual([]);
    const events = (await stack.api('GET', `/v1/audit?subject=artifact:${a2}`)).body.items.map((e: { type: string }) => e.type);
    expect(events).toEqual(expect.arrayContaining(['quarantine.requested', 'quarantine.applied', 'quarantine.enforced']));
    const lineage = (await stack.api('GET', `/v1/lineage/${a2}`)).body;
    expect(lineage.quarantine).toMatchObject({ requestId: req.requestId, reason: 'training data poisoned' });
    const report = (await stack.api('GET', `/v1/artifacts/${a2}/validate`)).body;
    expect(report).toMatchObject({ ok: false, quarantined: { requestId: req.requestId } });
  });

  it('refuses every promotion and rollback to a quarantined artifact with 409 naming the quarantine', async () => {
    const promote = await stack.api('POST', `/v1/artifacts/${a2}/promote`, { targetEnv: 'staging', reason: 'again' }, { token: promoter });
    expect(promote.status).toBe(409);
    expect(promote.body.error).toMatchObject({ code: 'ARTIFACT_QUARANTINED', field: 'artifactId' });
    expect(promote.body.error.message).toContain('training data poisoned');
    const rollback = await stack.api(
      'POST',
      '/v1/registry/models/churn/rollback',
      { targetEnv: 'prod', toArtifactId: a2, reason: 'back' },
      { token: promoter },
    );
    expect(rollback.status).toBe(409);
    expect(rollback.body.error.code).toBe('ARTIFACT_QUARANTINED');
    const again = await stack.api('POST', `/v1/artifacts/${a2}/quarantine`, { reason: 'twice' }, { token: security });
    expect(again.status).toBe(409);
  });

  it('quarantining a canary takes its rollout over and rolls the canary back', async () => {
    const a3 = await register(stack, 'churn');
    judge.hold();
    const canary = await stack.api(
      'POST',
      `/v1/artifacts/${a3}/promote`,
      { targetEnv: 'canary', reason: 'risky', canary: { steps: 2 } },
      { token: promoter },
    );
    expect(canary.status).toBe(201);
    const deadline = Date.now() + 10_000;
    while (!judge.calls.some((w) => w.canaryArtifactId === a3) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await servesWhere(stack, a3)).toEqual([{ env: 'canary', role: 'canary', percent: expect.any(Number) }]);
    const q = await stack.api('POST', `/v1/artifacts/${a3}/quarantine`, { reason: 'backdoor found' }, { token: security });
    expect(q.status).toBe(201);
    expect(q.body.requests[0].effects).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'canary-rolled-back', promotionId: canary.body.promotionId })]),
    );
    judge.release();
    const ended = await settled(stack, canary.body.promotionId);
    expect(ended.status).toBe('rolled_back');
    expect(await servesWhere(stack, a3)).toEqual([]);
    const end = (await stack.api('GET', `/v1/audit?subject=promotion:${canary.body.promotionId}&type=promotion.rolled_back`)).body.items;
    expect(end).toHaveLength(1);
    expect(end[0].payload.error).toContain('backdoor found');
  });

  it('drains an environment when no earlier artifact can take over, and a new promotion can serve it again', async () => {
    const b1 = await register(stack, 'solo');
    const staged = await stack.api('POST', `/v1/artifacts/${b1}/promote`, { targetEnv: 'staging', reason: 'first' }, { token: promoter });
    expect((await settled(stack, staged.body.promotionId)).status).toBe('succeeded');
    const q = await stack.api('POST', `/v1/artifacts/${b1}/quarantine`, { reason: 'leaked' }, { token: security });
    expect(q.status).toBe(201);
    expect(q.body.requests[0].effects).toEqual([expect.objectContaining({ kind: 'drained', env: 'staging' })]);
    expect(await servesWhere(stack, b1)).toEqual([]);
    const b2 = await register(stack, 'solo');
    const next = await stack.api(
      'POST',
      `/v1/artifacts/${b2}/promote`,
      { targetEnv: 'staging', reason: 'replacement' },
      { token: promoter },
    );
    expect(next.status).toBe(201);
    expect((await settled(stack, next.body.promotionId)).status).toBe('succeeded');
  });

  it('releases only through an admin request and a multisig quorum', async () => {
    const bySecurity = await stack.api('POST', `/v1/artifacts/${a2}/quarantine/release`, { reason: 'false alarm' }, { token: security });
    expect(bySecurity.status).toBe(403);
    const res = await stack.api('POST', `/v1/artifacts/${a2}/quarantine/release`, { reason: 'false alarm' });
    expect(res.status).toBe(202);
    const pending = res.body.requests.find((r: { action: string }) => r.action === 'release');
    expect(pending).toMatchObject({ status: 'pending_multisig', threshold: 3, policyDecision: { rules: ['release-quarantine-multisig'] } });
    const manifestSha256 = (await stack.api('GET', `/v1/artifacts/${a2}`)).body.manifestSha256 as string;
    const subject = { promotionId: pending.requestId, artifactId: a2, manifestSha256, targetEnv: 'quarantine:release' };
    const send = (body: object) => stack.api('POST', `/v1/quarantine-requests/${pending.requestId}/approvals`, body, { token: desk });
    // a statement for another target (a promotion's) does not count
    const wrong = await send(approve(approvers[0]!, { ...subject, targetEnv: 'prod' }));
    expect(wrong.status).toBe(422);
    expect(wrong.body.error).toMatchObject({ code: 'APPROVAL_REFUSED', field: 'signature' });
    expect((await send(approve(approvers[0]!, subject))).body.quarantined).toBe(true);
    expect((await send(approve(approvers[0]!, subject))).status).toBe(422);
    expect((await send(approve(approvers[1]!, subject))).body.quarantined).toBe(true);
    const done = await send(approve(approvers[2]!, subject));
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ quarantined: false, quarantine: null });
    const staged = await stack.api('POST', `/v1/artifacts/${a2}/promote`, { targetEnv: 'staging', reason: 'cleared' }, { token: promoter });
    expect(staged.status).toBe(201);
  });
});
