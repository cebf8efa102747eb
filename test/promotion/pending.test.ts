import { randomBytes } from 'node:crypto';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { approve, approverKey, highRiskPolicies, ScriptedJudge, settled, ShiftedClock, type Approver } from './support.js';

/**
 * Multisig by TUF's rules at transition time: only approvals valid then count (unexpired
 * statement, unrevoked key); pending promotions expire and can be cancelled; a critical
 * rollback is never blocked by another artifact's pending promotion.
 */
const DAY = 86_400_000;
const HOUR = 3_600_000;

interface World {
  stack: Stack;
  clock: ShiftedClock;
  alice: string;
  bob: string;
  desk: string;
  approvers: Approver[];
}

async function world(env: Record<string, string> = {}): Promise<World> {
  const clock = new ShiftedClock();
  const stack = await startStack(
    { AEGIS_POLICIES_DIR: await highRiskPolicies('fraud'), ...env },
    { judge: new ScriptedJudge(), waitMs: 5, clock },
  );
  const token = async (principal: string, role: string) =>
    (await stack.api('POST', '/v1/tokens', { principal, role })).body.token as string;
  const approvers = Array.from({ length: 5 }, (_, i) => approverKey(`approver-${i + 1}`, `approver${i + 1}@example.com`));
  for (const a of approvers)
    expect((await stack.api('POST', '/v1/keys', { kid: a.kid, purpose: 'approver', publicKey: a.publicKey, owner: a.owner })).status).toBe(
      201,
    );
  return {
    stack,
    clock,
    alice: await token('alice', 'promoter'),
    bob: await token('bob', 'promoter'),
    desk: await token('approvals-desk', 'approver'),
    approvers,
  };
}

async function canaried(w: World, bytes = randomBytes(1000)) {
  const artifactId = (await uploadAndRegister(w.stack, 'fraud', bytes)).body.artifactId as string;
  const manifestSha256 = (await w.stack.api('GET', `/v1/registry/${artifactId}`)).body.manifestSha256 as string;
  const c = await w.stack.api(
    'POST',
    `/v1/registry/${artifactId}/promote`,
    { targetEnv: 'canary', reason: 'canary first', canary: { steps: 1 } },
    { token: w.alice },
  );
  expect((await settled(w.stack, c.body.promotionId)).status).toBe('succeeded');
  return { artifactId, manifestSha256 };
}

async function pendingProd(w: World, a: { artifactId: string }, token = w.alice) {
  // a high-risk model that serves prod already reaches it again only through a shadow (high-risk-prod-requires-shadow)
  const record = (await w.stack.api('GET', `/v1/artifacts/${a.artifactId}`)).body;
  const serving = (await w.stack.container.rollout.route(record.modelName, 'prod')).stable !== null;
  const res = await w.stack.api(
    'POST',
    `/v1/registry/${a.artifactId}/promote`,
    { targetEnv: 'prod', reason: 'go live', canary: { steps: 1 }, ...(serving ? { strategy: 'shadow' } : {}) },
    { token },
  );
  expect(res.status).toBe(202);
  return res.body.promotionId as string;
}

const subjectOf = (promotionId: string, a: { artifactId: string; manifestSha256: string }, targetEnv = 'prod') => ({
  promotionId,
  artifactId: a.artifactId,
  manifestSha256: a.manifestSha256,
  targetEnv,
});
const inHour = (w: World) => new Date(w.clock.now().getTime() + HOUR).toISOString();
const send = (w: World, promotionId: string, body: object) =>
  w.stack.api('POST', `/v1/promotions/${promotionId}/approvals`, body, { token: w.desk });
const events = async (w: World, promotionId: string) =>
  (await w.stack.api('GET', `/v1/audit?subject=promotion:${promotionId}&limit=1000`)).body.items as {
    type: string;
    actor: string;
    payload: any;
  }[];

describe('quorum is computed at transition time over approvals valid then', () => {
  let w: World;
  beforeAll(async () => {
    w = await world();
  }, 120_000);
  afterAll(async () => {
    await w?.stack.stop();
  });

  it('does not count an approval whose statement expired before the quorum; its approver may approve again', async () => {
    const a = await canaried(w);
    const id = await pendingProd(w, a);
    const [a1, a2, a3] = w.approvers as [Approver, Approver, Approver];
    const soon = new Date(w.clock.now().getTime() + HOUR).toISOString();
    expect((await send(w, id, approve(a1, subjectOf(id, a), soon))).status).toBe(200);
    expect((await send(w, id, approve(a2, subjectOf(id, a), soon))).status).toBe(200);
    w.clock.advance(2 * HOUR); // both statements have now expired

    const third = await send(w, id, approve(a3, subjectOf(id, a), inHour(w)));
    expect(third.status).toBe(200);
    expect(third.body.status).toBe('pending_multisig');
    expect(third.body.approvals).toEqual([
      expect.objectContaining({ approverId: 'approver-1', valid: false }),
      expect.objectContaining({ approverId: 'approver-2', valid: false }),
      expect.objectContaining({ approverId: 'approver-3', valid: true }),
    ]);
    const accepted = (await events(w, id)).filter((e) => e.type === 'promotion.approval_accepted');
    expect(accepted.at(-1)!.payload.count).toBe(1);

    // renewed approvals count again; the third valid one makes the transition
    expect((await send(w, id, approve(a1, subjectOf(id, a), inHour(w)))).body.status).toBe('pending_multisig');
    const done = await send(w, id, approve(a2, subjectOf(id, a), inHour(w)));
    expect(done.body.status).not.toBe('pending_multisig');
    expect((await settled(w.stack, id)).status).toBe('succeeded');
    const approved = (await events(w, id)).filter((e) => e.type === 'promotion.approved');
    expect(approved).toHaveLength(1);
    expect(approved[0]!.payload.approvers).toEqual(['approver-1', 'approver-2', 'approver-3']);
  });

  it('does not count an approval by a key revoked after it signed', async () => {
    const b = await canaried(w);
    const id = await pendingProd(w, b);
    const [, , , a4, a5] = w.approvers as Approver[];
    const extra = approverKey('approver-6', 'approver6@example.com');
    expect(
      (await w.stack.api('POST', '/v1/keys', { kid: extra.kid, purpose: 'approver', publicKey: extra.publicKey, owner: extra.owner }))
        .status,
    ).toBe(201);
    expect((await send(w, id, approve(extra, subjectOf(id, b), inHour(w)))).status).toBe(200);
    expect((await send(w, id, approve(a4!, subjectOf(id, b), inHour(w)))).status).toBe(200);
    expect((await w.stack.api('POST', `/v1/keys/${extra.kid}/revoke`)).status).toBe(200);

    const third = await send(w, id, approve(a5!, subjectOf(id, b), inHour(w)));
    expect(third.body.status).toBe('pending_multisig'); // 2 valid of 3
    expect(third.body.approvals.find((x: { approverId: string }) => x.approverId === 'approver-6')).toMatchObject({ valid: false });
    const done = await send(w, id, approve(w.approvers[0]!, subjectOf(id, b), inHour(w)));
    expect(done.body.status).not.toBe('pending_multisig');
    expect((await settled(w.stack, id)).status).toBe('succeeded');
    expect((await events(w, id)).find((e) => e.type === 'promotion.approved')!.payload.approvers).toEqual([
      'approver-1',
      'approver-4',
      'approver-5',
    ]);
  });
});

describe('pending promotions expire and can be cancelled', () => {
  let w: World;
  beforeAll(async () => {
    w = await world();
  }, 120_000);
  afterAll(async () => {
    await w?.stack.stop();
  });

  it('expires a pending promotion after 7 days by default: approvals are refused, it no longer blocks, and the expiry is audited', async () => {
    const a = await canaried(w);
    const id = await pendingProd(w, a);
    const pending = (await w.stack.api('GET', `/v1/promotions/${id}`)).body;
    expect(Date.parse(pending.expiresAt) - Date.parse(pending.createdAt)).toBe(7 * DAY);

    w.clock.advance(7 * DAY - HOUR);
    expect((await send(w, id, approve(w.approvers[0]!, subjectOf(id, a), inHour(w)))).status).toBe(200);
    w.clock.advance(2 * HOUR);
    const late = await send(w, id, approve(w.approvers[1]!, subjectOf(id, a), inHour(w)));
    expect(late.status).toBe(409);
    expect(late.body.error).toMatchObject({ code: 'PROMOTION_EXPIRED', field: 'promotionId' });
    expect((await w.stack.api('GET', `/v1/promotions/${id}`)).body.status).toBe('expired');
    expect((await events(w, id)).filter((e) => e.type === 'promotion.expired')).toHaveLength(1);

    // the model and environment are free again
    const again = await pendingProd(w, a);
    expect(again).not.toBe(id);
  });

  it('expires stale pending promotions when a new one is requested, without anyone touching the old one', async () => {
    const a = await canaried(w);
    const blocked = await w.stack.api(
      'POST',
      `/v1/registry/${a.artifactId}/promote`,
      { targetEnv: 'prod', reason: 'again', canary: { steps: 1 } },
      { token: w.alice },
    );
    expect(blocked.status).toBe(409); // the one from the previous test is pending
    w.clock.advance(7 * DAY + 1000);
    const id = await pendingProd(w, a);
    expect(id).not.toBe(blocked.body.error.details.promotionId);
    expect((await w.stack.api('GET', `/v1/promotions/${blocked.body.error.details.promotionId}`)).body.status).toBe('expired');
  });

  it('lets the requester or an admin cancel a pending promotion, audited with the reason; nobody else', async () => {
    const promotions = (await w.stack.api('GET', `/v1/audit?type=promotion.requested&limit=1000`)).body.items;
    const id = promotions.at(-1).payload.promotionId as string;
    const byBob = await w.stack.api('POST', `/v1/promotions/${id}/cancel`, { reason: 'not mine' }, { token: w.bob });
    expect(byBob.status).toBe(403);
    expect(byBob.body.error).toMatchObject({ code: 'FORBIDDEN', field: 'promotionId' });
    expect((await w.stack.api('POST', `/v1/promotions/${id}/cancel`, { reason: 'x' }, { token: w.desk })).status).toBe(403);
    expect((await w.stack.api('POST', `/v1/promotions/${id}/cancel`, {}, { token: w.alice })).body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      field: 'reason',
    });

    const cancelled = await w.stack.api('POST', `/v1/promotions/${id}/cancel`, { reason: 'wrong artifact' }, { token: w.alice });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ promotionId: id, status: 'cancelled' });
    const ev = (await events(w, id)).filter((e) => e.type === 'promotion.cancelled');
    expect(ev).toEqual([
      expect.objectContaining({ actor: 'alice', payload: expect.objectContaining({ promotionId: id, reason: 'wrong artifact' }) }),
    ]);
    expect((await w.stack.api('POST', `/v1/promotions/${id}/cancel`, { reason: 'again' }, { token: w.alice })).status).toBe(409);
    expect(
      (
        await send(
          w,
          id,
          approve(
            w.approvers[0]!,
            {
              promotionId: id,
              artifactId: cancelled.body.artifactId,
              manifestSha256: (await w.stack.api('GET', `/v1/registry/${cancelled.body.artifactId}`)).body.manifestSha256,
              targetEnv: 'prod',
            },
            inHour(w),
          ),
        )
      ).status,
    ).toBe(409);

    // an admin may cancel someone else's
    const a = await canaried(w);
    const other = await pendingProd(w, a, w.bob);
    const byAdmin = await w.stack.api('POST', `/v1/promotions/${other}/cancel`, { reason: 'freeze' });
    expect(byAdmin.body.status).toBe('cancelled');
    expect((await w.stack.api('GET', `/v1/audit/verify`)).body.ok).toBe(true);
  });

  it('refuses to cancel a promotion that is rolling out or done', async () => {
    const a = await canaried(w);
    const staging = await w.stack.api(
      'POST',
      `/v1/registry/${a.artifactId}/promote`,
      { targetEnv: 'staging', reason: 'stage' },
      { token: w.alice },
    );
    const done = await settled(w.stack, staging.body.promotionId);
    const res = await w.stack.api('POST', `/v1/promotions/${done.promotionId}/cancel`, { reason: 'too late' }, { token: w.alice });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'CONFLICT', field: 'promotionId' });
  });
});

describe('the expiry is configurable', () => {
  let w: World;
  beforeAll(async () => {
    w = await world({ AEGIS_PENDING_PROMOTION_TTL_SECONDS: '3600' });
  }, 120_000);
  afterAll(async () => {
    await w?.stack.stop();
  });

  it('expires after AEGIS_PENDING_PROMOTION_TTL_SECONDS', async () => {
    const a = await canaried(w);
    const id = await pendingProd(w, a);
    expect(Date.parse((await w.stack.api('GET', `/v1/promotions/${id}`)).body.expiresAt) - w.clock.now().getTime()).toBeLessThanOrEqual(
      HOUR,
    );
    w.clock.advance(HOUR + 1000);
    expect((await w.stack.api('GET', `/v1/promotions/${id}`)).body.status).toBe('expired');
    expect((await send(w, id, approve(w.approvers[0]!, subjectOf(id, a), inHour(w)))).body.error.code).toBe('PROMOTION_EXPIRED');
  });
});

describe('a critical rollback is never blocked by a pending promotion of another artifact', () => {
  let w: World;
  beforeAll(async () => {
    w = await world();
  }, 120_000);
  afterAll(async () => {
    await w?.stack.stop();
  });

  async function toProd(a: { artifactId: string; manifestSha256: string }) {
    const id = await pendingProd(w, a);
    for (const ap of w.approvers.slice(0, 3)) await send(w, id, approve(ap, subjectOf(id, a), inHour(w)));
    expect((await settled(w.stack, id)).status).toBe('succeeded');
  }

  it('supersedes the pending promotion (cancelled, audited, naming the rollback) and rolls back once approved', async () => {
    const a = await canaried(w);
    await toProd(a);
    const b = await canaried(w);
    await toProd(b);
    const c = await canaried(w);
    const blocking = await pendingProd(w, c);

    const plain = await w.stack.api(
      'POST',
      '/v1/registry/models/fraud/rollback',
      { targetEnv: 'prod', toArtifactId: a.artifactId, reason: 'b is bad' },
      { token: w.alice },
    );
    expect(plain.status).toBe(409); // a non-critical rollback still waits (or cancel the promotion first)
    expect(plain.body.error.details.promotionId).toBe(blocking);

    const rollback = await w.stack.api(
      'POST',
      '/v1/registry/models/fraud/rollback',
      { targetEnv: 'prod', toArtifactId: a.artifactId, reason: 'b is corrupting scores', critical: true },
      { token: w.bob },
    );
    expect(rollback.status).toBe(202);
    expect(rollback.body).toMatchObject({ kind: 'rollback', status: 'pending_multisig', artifactId: a.artifactId });
    const superseded = (await w.stack.api('GET', `/v1/promotions/${blocking}`)).body;
    expect(superseded.status).toBe('cancelled');
    const cancelEvent = (await events(w, blocking)).find((e) => e.type === 'promotion.cancelled')!;
    expect(cancelEvent).toMatchObject({ actor: 'bob', payload: { supersededBy: rollback.body.promotionId } });

    for (const ap of w.approvers.slice(0, 3))
      await send(w, rollback.body.promotionId, approve(ap, subjectOf(rollback.body.promotionId, a), inHour(w)));
    expect((await settled(w.stack, rollback.body.promotionId)).status).toBe('succeeded');
    expect((await w.stack.api('GET', `/v1/lineage/${a.artifactId}`)).body.deployments).toEqual(
      expect.arrayContaining([{ env: 'prod', role: 'stable', percent: 100 }]),
    );
    expect((await w.stack.api('GET', `/v1/audit/verify`)).body.ok).toBe(true);
  });
});
