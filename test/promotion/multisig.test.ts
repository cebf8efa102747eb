import { randomBytes } from 'node:crypto';
import { createTestDatabase } from '../support/postgres.js';
import { describeUnless, NO_POSTGRES } from '../support/unavailable.js';
import { startStack, uploadAndRegister } from '../support/local-stack.js';
import { approve, approverKey, highRiskPolicies, ScriptedJudge, settled, type Approver } from './support.js';

async function setup(env: Record<string, string>) {
  const stack = await startStack(
    { AEGIS_POLICIES_DIR: await highRiskPolicies('fraud'), ...env },
    { judge: new ScriptedJudge(), waitMs: 5 },
  );
  const promoter = (await stack.api('POST', '/v1/tokens', { principal: 'alice', role: 'promoter' })).body.token as string;
  const approverToken = (await stack.api('POST', '/v1/tokens', { principal: 'approvals-desk', role: 'approver' })).body.token as string;
  const approvers = Array.from({ length: 5 }, (_, i) => approverKey(`approver-${i + 1}`, `approver${i + 1}@example.com`));
  const own = approverKey('alice-key', 'alice');
  for (const a of [...approvers, own]) {
    const res = await stack.api('POST', '/v1/keys', { kid: a.kid, purpose: 'approver', publicKey: a.publicKey, owner: a.owner });
    expect(res.status).toBe(201);
  }
  const r = await uploadAndRegister(stack, 'fraud', randomBytes(1200));
  const artifactId = r.body.artifactId as string;
  const manifestSha256 = (await stack.api('GET', `/v1/registry/${artifactId}`)).body.manifestSha256 as string;
  const promote = (targetEnv: string) =>
    stack.api(
      'POST',
      `/v1/registry/${artifactId}/promote`,
      { targetEnv, reason: 'quarterly model', canary: { steps: 1 } },
      { token: promoter },
    );
  expect((await settled(stack, (await promote('canary')).body.promotionId)).status).toBe('succeeded');
  const pending = await promote('prod');
  return { stack, approverToken, approvers, own, artifactId, manifestSha256, pending };
}

describe('3-of-5 multisig for a high-risk prod promotion', () => {
  let s: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    s = await setup({});
  });
  afterAll(async () => {
    await s?.stack.stop();
  });

  const send = (body: object) =>
    s.stack.api('POST', `/v1/promotions/${s.pending.body.promotionId}/approvals`, body, { token: s.approverToken });
  const subject = () => ({
    promotionId: s.pending.body.promotionId,
    artifactId: s.artifactId,
    manifestSha256: s.manifestSha256,
    targetEnv: 'prod',
  });

  it('answers 202 pending_multisig with the threshold and the deciding rule', () => {
    expect(s.pending.status).toBe(202);
    expect(s.pending.body).toMatchObject({
      status: 'pending_multisig',
      threshold: 3,
      policyDecision: { decision: 'require_multisig', rules: ['high-risk-prod-multisig'], threshold: 3, approvers: 5 },
    });
  });

  it('refuses an approval by a revoked approver key without counting it', async () => {
    const k = approverKey('short-lived', 'temp@example.com');
    expect(
      (await s.stack.api('POST', '/v1/keys', { kid: k.kid, purpose: 'approver', publicKey: k.publicKey, owner: k.owner })).status,
    ).toBe(201);
    const revoked = await s.stack.api('POST', `/v1/keys/${k.kid}/revoke`);
    expect(revoked.body.revokedAt).not.toBeNull();
    const res = await send(approve(k, subject()));
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'APPROVAL_REFUSED', details: { refusal: 'revoked' } });
    expect((await s.stack.api('GET', `/v1/promotions/${s.pending.body.promotionId}`)).body.approvals).toEqual([]);
  });

  it('refuses bad approvals without counting them, audits each, and starts exactly one rollout at the third', async () => {
    const [a1, a2, a3] = s.approvers as [Approver, Approver, Approver];
    expect((await send(approve(a1, subject()))).body.approvals).toHaveLength(1);
    for (let i = 0; i < 2; i++) {
      const again = await send(approve(a1, subject()));
      expect(again.status).toBe(422);
      expect(again.body.error).toMatchObject({ code: 'APPROVAL_REFUSED', details: { refusal: 'duplicate' } });
    }
    const stranger = approverKey('stranger', 'mallory');
    expect((await send(approve(stranger, subject()))).body.error.details.refusal).toBe('unknown-key');
    expect((await send(approve(a2, subject(), new Date(Date.now() - 1000).toISOString()))).body.error).toMatchObject({
      details: { refusal: 'expired' },
      field: 'expiresAt',
    });
    expect((await send(approve(a2, { ...subject(), promotionId: '00000000-0000-4000-8000-000000000000' }))).body.error).toMatchObject({
      details: { refusal: 'bad-signature' },
      field: 'signature',
    });
    expect((await send(approve(a2, { ...subject(), targetEnv: 'staging' }))).body.error.details.refusal).toBe('bad-signature');
    expect((await send(approve(s.own, subject()))).body.error.details.refusal).toBe('requester');

    const two = await send(approve(a2, subject()));
    expect(two.body).toMatchObject({ status: 'pending_multisig' });
    expect(two.body.approvals.map((a: { approverId: string }) => a.approverId)).toEqual(['approver-1', 'approver-2']);

    const three = await send(approve(a3, subject()));
    expect(three.status).toBe(200);
    expect(three.body.status).not.toBe('pending_multisig');
    const done = await settled(s.stack, s.pending.body.promotionId);
    expect(done.status).toBe('succeeded');
    expect(done.trace.filter((t: { state: string }) => t.state === 'StartCanary')).toHaveLength(1);
    const late = await send(approve(s.approvers[3]!, subject()));
    expect(late.status).toBe(409);

    const events = (await s.stack.api('GET', `/v1/audit?subject=promotion:${s.pending.body.promotionId}&limit=1000`)).body.items.map(
      (e: { type: string }) => e.type,
    );
    expect(events.filter((t: string) => t === 'promotion.approval_refused')).toHaveLength(8); // 7 here + the revoked key
    expect(events.filter((t: string) => t === 'promotion.approval_accepted')).toHaveLength(3);
    expect(events.filter((t: string) => t === 'promotion.approved')).toHaveLength(1);
  });

  it('enrols approver keys only by an admin, and only Ed25519 public keys', async () => {
    const publisher = (await s.stack.api('POST', '/v1/tokens', { principal: 'p', role: 'publisher' })).body.token;
    const k = approverKey('rogue', 'rogue');
    expect(
      (
        await s.stack.api(
          'POST',
          '/v1/keys',
          { kid: k.kid, purpose: 'approver', publicKey: k.publicKey, owner: 'rogue' },
          { token: publisher },
        )
      ).status,
    ).toBe(403);
    const bad = await s.stack.api('POST', '/v1/keys', {
      kid: 'x',
      purpose: 'approver',
      publicKey: Buffer.from('not a key').toString('base64'),
      owner: 'x',
    });
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'publicKey' });
  });
});

// probed before the suite is defined: absent only outside CI, and then reported skipped
const raceDb = await createTestDatabase();

describeUnless(raceDb ? undefined : NO_POSTGRES, 'approvals racing on the PostgreSQL server', () => {
  let s: Awaited<ReturnType<typeof setup>> | undefined;
  beforeAll(async () => {
    s = await setup({ MODEL_REGISTRY_DATABASE_URL: raceDb!.url });
  });
  afterAll(async () => {
    await s?.stack.stop();
    await raceDb?.drop();
  });

  it('makes exactly one transition and starts exactly one rollout when five approvals race', async () => {
    if (!s) throw new Error('setup failed (see beforeAll)');
    const subject = {
      promotionId: s.pending.body.promotionId,
      artifactId: s.artifactId,
      manifestSha256: s.manifestSha256,
      targetEnv: 'prod',
    };
    const results = await Promise.all(
      s.approvers.map((a) =>
        s!.stack.api('POST', `/v1/promotions/${subject.promotionId}/approvals`, approve(a, subject), { token: s!.approverToken }),
      ),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(3);
    expect(results.filter((r) => r.status !== 200).every((r) => r.status === 409)).toBe(true);
    const done = await settled(s.stack, subject.promotionId);
    expect(done.status).toBe('succeeded');
    expect(done.approvals).toHaveLength(3);
    expect(done.trace.filter((t: { state: string }) => t.state === 'StartCanary')).toHaveLength(1);
    const events = (await s.stack.api('GET', `/v1/audit?subject=promotion:${subject.promotionId}&limit=1000`)).body.items.map(
      (e: { type: string }) => e.type,
    );
    expect(events.filter((t: string) => t === 'promotion.approved')).toHaveLength(1);
  });
});
