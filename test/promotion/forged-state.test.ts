import { randomBytes } from 'node:crypto';
import type { CanaryWindow, RolloutJudge, WindowVerdict } from '../../lib/platform/ports/workflows.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { approve, approverKey, highRiskPolicies, ScriptedJudge, settled, ShiftedClock, type Approver } from './support.js';

/**
 * Issue 9: the gates rely on signed or chained facts only. Stored approvals are re-verified
 * (their signature over the statement, and the chain's accepted-approval event) when the
 * quorum is counted; what serves where is read from the chain's applied promotions, and a
 * `routes` row that disagrees refuses. Every forgery here is a direct database edit.
 */
const HOUR = 3_600_000;

/** The scripted judge, with a hook that runs inside each evaluation (after the step read what serves). */
class HookedJudge implements RolloutJudge {
  readonly inner = new ScriptedJudge();
  hook: ((w: CanaryWindow) => Promise<void>) | undefined;
  async evaluate(w: CanaryWindow): Promise<WindowVerdict> {
    await this.hook?.(w);
    return this.inner.evaluate(w);
  }
}

let stack: Stack;
let clock: ShiftedClock;
let judge: HookedJudge;
let alice: string;
let desk: string;
let approvers: Approver[];

beforeAll(async () => {
  clock = new ShiftedClock();
  judge = new HookedJudge();
  stack = await startStack({ AEGIS_POLICIES_DIR: await highRiskPolicies('fraud') }, { judge, waitMs: 5, clock });
  const token = async (principal: string, role: string) =>
    (await stack.api('POST', '/v1/tokens', { principal, role })).body.token as string;
  approvers = Array.from({ length: 5 }, (_, i) => approverKey(`approver-${i + 1}`, `approver${i + 1}@example.com`));
  for (const a of approvers)
    expect((await stack.api('POST', '/v1/keys', { kid: a.kid, purpose: 'approver', publicKey: a.publicKey, owner: a.owner })).status).toBe(
      201,
    );
  alice = await token('alice', 'promoter');
  desk = await token('approvals-desk', 'approver');
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const db = () => stack.container.database.db;
const inHour = () => new Date(clock.now().getTime() + HOUR).toISOString();
const subjectOf = (promotionId: string, a: { artifactId: string; manifestSha256: string }) => ({
  promotionId,
  artifactId: a.artifactId,
  manifestSha256: a.manifestSha256,
  targetEnv: 'prod',
});
const send = (promotionId: string, body: object) => stack.api('POST', `/v1/promotions/${promotionId}/approvals`, body, { token: desk });
const events = async (promotionId: string) =>
  (await stack.api('GET', `/v1/audit?subject=promotion:${promotionId}&limit=1000`)).body.items as { type: string; payload: any }[];
const promote = (artifactId: string, body: Record<string, unknown>) =>
  stack.api('POST', `/v1/registry/${artifactId}/promote`, { reason: 'test', ...body }, { token: alice });
const rollback = (model: string, body: Record<string, unknown>) =>
  stack.api('POST', `/v1/registry/models/${model}/rollback`, { reason: 'test', ...body }, { token: alice });

async function registered(model: string) {
  const r = await uploadAndRegister(stack, model, randomBytes(900));
  expect(r.status).toBe(201);
  return {
    artifactId: r.body.artifactId as string,
    manifestSha256: (await stack.api('GET', `/v1/registry/${r.body.artifactId}`)).body.manifestSha256 as string,
  };
}

async function applied(res: { status: number; body: { promotionId: string } }) {
  expect(res.status).toBe(201);
  const p = await settled(stack, res.body.promotionId);
  expect(p.status).toBe('succeeded');
  return p.promotionId as string;
}

/** A fraud artifact through a canary, then a prod promotion waiting for 3 of 5 approvals. */
let fraud: { artifactId: string; manifestSha256: string } | undefined;
async function pendingProd() {
  if (!fraud) {
    fraud = await registered('fraud');
    await applied(await promote(fraud.artifactId, { targetEnv: 'canary', canary: { steps: 1 } }));
  }
  // fraud is high risk: once it serves prod, a promotion there must be a shadow (high-risk-prod-requires-shadow)
  const serving = (await stack.container.rollout.route('fraud', 'prod')).stable !== null;
  const res = await promote(fraud.artifactId, { targetEnv: 'prod', canary: { steps: 1 }, ...(serving ? { strategy: 'shadow' } : {}) });
  expect(res.status).toBe(202);
  return { id: res.body.promotionId as string, a: fraud };
}

/** The refusal every forged quorum gets: audited, nothing counted, still pending. */
async function expectEvidenceRefusal(id: string, res: { status: number; body: any }, tampered: string[], why: RegExp) {
  expect(res.status).toBe(422);
  expect(res.body.error).toMatchObject({ code: 'APPROVAL_REFUSED', field: 'promotionId', details: { refusal: 'evidence-mismatch' } });
  for (const kid of tampered) expect(res.body.error.message).toContain(`stored approval by ${kid}`);
  expect(res.body.error.message).toMatch(why);
  const p = (await stack.api('GET', `/v1/promotions/${id}`)).body;
  expect(p.status).toBe('pending_multisig');
  for (const kid of tampered)
    expect(p.approvals.find((x: { approverId: string }) => x.approverId === kid)).toMatchObject({
      valid: false,
      reason: expect.stringMatching(why),
    });
  const ev = await events(id);
  expect(ev.filter((e) => e.type === 'promotion.approved')).toEqual([]);
  expect(ev.filter((e) => e.type === 'promotion.approval_refused').at(-1)!.payload).toMatchObject({
    refusal: 'evidence-mismatch',
    tampered: [...tampered].sort(),
  });
  // the refusal is itself on the chain, which the edits of the approvals table did not touch
  expect((await stack.api('GET', '/v1/audit/verify')).body.ok).toBe(true);
  // the promotion is cancelled and requested again to go on
  expect((await stack.api('POST', `/v1/promotions/${id}/cancel`, { reason: 'forged approvals' }, { token: alice })).body.status).toBe(
    'cancelled',
  );
}

describe('a quorum counts only approvals their signatures and the audit chain back', () => {
  it('refuses, audited, when approval rows were inserted for approvers who never approved', async () => {
    const { id, a } = await pendingProd();
    const [a1, a2, a3] = approvers as [Approver, Approver, Approver];
    const now = clock.now();
    // approver-2's row carries approver-1's signature; approver-3's is not a signature at all
    const byOther = approve(a1, subjectOf(id, a), inHour());
    await db()
      .insertInto('promotion_approvals')
      .values({ promotion_id: id, approver_kid: a2.kid, signature: byOther.signature, expires_at: byOther.expiresAt, created_at: now })
      .execute();
    await db()
      .insertInto('promotion_approvals')
      .values({
        promotion_id: id,
        approver_kid: a3.kid,
        signature: Buffer.alloc(64, 7).toString('base64'),
        expires_at: inHour(),
        created_at: now,
      })
      .execute();

    const res = await send(id, approve(a1, subjectOf(id, a), inHour()));
    await expectEvidenceRefusal(
      id,
      res,
      ['approver-2', 'approver-3'],
      /signature does not verify under approver-\d .*; the audit chain records no such accepted approval/,
    );
  });

  it('refuses, audited, when approvals of another promotion were copied into this one', async () => {
    const first = await pendingProd();
    const [a1, a2, a3] = approvers as [Approver, Approver, Approver];
    for (const ap of [a2, a3]) expect((await send(first.id, approve(ap, subjectOf(first.id, first.a), inHour()))).status).toBe(200);
    expect((await stack.api('POST', `/v1/promotions/${first.id}/cancel`, { reason: 'redo' }, { token: alice })).status).toBe(200);
    const { id, a } = await pendingProd();
    const copied = await db().selectFrom('promotion_approvals').selectAll().where('promotion_id', '=', first.id).execute();
    expect(copied).toHaveLength(2);
    await db()
      .insertInto('promotion_approvals')
      .values(copied.map((r) => ({ ...r, promotion_id: id, created_at: new Date(r.created_at) })))
      .execute();

    const res = await send(id, approve(a1, subjectOf(id, a), inHour()));
    await expectEvidenceRefusal(
      id,
      res,
      ['approver-2', 'approver-3'],
      /signature does not verify under approver-\d over this promotion.*; the audit chain records no such accepted approval/,
    );
  });

  it('refuses, audited, when the expiry of approvals that stopped counting was moved in the database', async () => {
    const { id, a } = await pendingProd();
    const [a1, a2, a3] = approvers as [Approver, Approver, Approver];
    for (const ap of [a1, a2]) expect((await send(id, approve(ap, subjectOf(id, a), inHour()))).status).toBe(200);
    clock.advance(2 * HOUR); // both have expired: they no longer count
    const later = new Date(clock.now().getTime() + 24 * HOUR).toISOString();
    await db().updateTable('promotion_approvals').set({ expires_at: later }).where('promotion_id', '=', id).execute();

    const res = await send(id, approve(a3, subjectOf(id, a), inHour()));
    await expectEvidenceRefusal(
      id,
      res,
      ['approver-1', 'approver-2'],
      new RegExp(
        `signature does not verify under approver-\\d over this promotion, artifact, target and expiry ${later.replace(/[.]/g, '\\.')}; the audit chain records no such accepted approval`,
      ),
    );
  });

  it('still transitions on three genuine approvals, and shows each as valid', async () => {
    const { id, a } = await pendingProd();
    for (const ap of approvers.slice(0, 2))
      expect((await send(id, approve(ap, subjectOf(id, a), inHour()))).body.approvals.every((x: { valid: boolean }) => x.valid)).toBe(true);
    const done = await send(id, approve(approvers[2]!, subjectOf(id, a), inHour()));
    expect(done.status).toBe(200);
    expect(done.body.status).not.toBe('pending_multisig');
    expect((await settled(stack, id)).status).toBe('succeeded');
  });
});

describe('what serves where is read from the chain, not the routes table', () => {
  it('refuses a promotion or rollback where the routes row was edited, naming gate-evidence-verified and what the chain says', async () => {
    const [a, b, c] = [await registered('served-where'), await registered('served-where'), await registered('served-where')];
    await applied(await promote(a.artifactId, { targetEnv: 'staging' }));
    const pb = await applied(await promote(b.artifactId, { targetEnv: 'staging' }));
    const route = db().updateTable('routes').where('model_name', '=', 'served-where').where('env', '=', 'staging');
    await route.set({ stable_artifact_id: a.artifactId }).execute();

    const chain = `the routes table says ${a.artifactId} serves served-where in staging, but the last promotion the audit chain shows applied there is ${pb} `;
    // as if a still served: a rollback to it would be "already serving", a promotion compared with it
    const rb = await rollback('served-where', { targetEnv: 'staging', toArtifactId: a.artifactId });
    expect(rb.status).toBe(403);
    expect(rb.body.error).toMatchObject({ code: 'POLICY_DENIED', details: { rules: ['gate-evidence-verified'] } });
    expect(rb.body.error.message).toContain(chain);
    const next = await promote(c.artifactId, { targetEnv: 'staging' });
    expect(next.status).toBe(403);
    expect(next.body.error.details.rules).toEqual(['gate-evidence-verified']);
    expect(next.body.error.message).toContain(`${chain}(event `);
    expect(next.body.error.message).toContain(`) of ${b.artifactId}`);

    // a deleted row is a mismatch too
    await db().deleteFrom('routes').where('model_name', '=', 'served-where').where('env', '=', 'staging').execute();
    const gone = await promote(c.artifactId, { targetEnv: 'staging' });
    expect(gone.body.error.message).toContain('the routes table says nothing serves served-where in staging');

    // put back as the chain has it, the same requests go ahead
    await db()
      .insertInto('routes')
      .values({
        model_name: 'served-where',
        env: 'staging',
        stable_artifact_id: b.artifactId,
        canary_artifact_id: null,
        canary_percent: 0,
        promotion_id: pb,
        updated_at: clock.now(),
      })
      .execute();
    await applied(await rollback('served-where', { targetEnv: 'staging', toArtifactId: a.artifactId }));
    await applied(await promote(c.artifactId, { targetEnv: 'staging' }));
  });

  it('judges a canary against what the chain says serves, and rolls back naming the routes row when it was edited mid-rollout', async () => {
    const [a, b, never] = [await registered('judged-against'), await registered('judged-against'), await registered('judged-against')];
    const pa = await applied(await promote(a.artifactId, { targetEnv: 'canary', canary: { steps: 1 } }));
    let edited = false;
    judge.hook = async (w) => {
      if (w.modelName !== 'judged-against' || edited) return;
      edited = true;
      await db()
        .updateTable('routes')
        .set({ stable_artifact_id: never.artifactId })
        .where('model_name', '=', 'judged-against')
        .where('env', '=', 'canary')
        .execute();
    };
    const res = await promote(b.artifactId, { targetEnv: 'canary', canary: { steps: 2 } });
    expect(res.status).toBe(201);
    const p = await settled(stack, res.body.promotionId);
    judge.hook = undefined;

    expect(p.status).toBe('rolled_back');
    const judged = judge.inner.calls.filter((w) => w.promotionId === res.body.promotionId);
    expect(judged.map((w) => w.stableArtifactId)).toEqual([a.artifactId]); // never judged against the edited row
    const end = (await events(res.body.promotionId)).find((e) => e.type === 'promotion.rolled_back')!;
    expect(end.payload.error).toContain(
      `the routes table says ${never.artifactId} serves judged-against in canary, but the last promotion the audit chain shows applied there is ${pa} `,
    );
  });
});

describe('a rollout starts only when the chain lets it', () => {
  it('rolls back, naming the missing quorum, a pending promotion whose status was edited to rolling_out and then resumed by a restart', async () => {
    const before = await db()
      .selectFrom('routes')
      .select('stable_artifact_id')
      .where('model_name', '=', 'fraud')
      .where('env', '=', 'prod')
      .executeTakeFirst();
    const { id } = await pendingProd();
    await db().updateTable('promotions').set({ status: 'rolling_out' }).where('promotion_id', '=', id).execute();
    expect(await stack.container.promotions.resumeUnfinished()).toContain(id);

    const p = await settled(stack, id);
    expect(p.status).toBe('rolled_back');
    const ev = await events(id);
    expect(ev.filter((e) => e.type === 'promotion.applied')).toEqual([]);
    expect(ev.find((e) => e.type === 'promotion.rolled_back')!.payload.error).toContain(
      `promotion ${id} (promote to prod) is stored as rolling out, but it waits for approvals and the audit chain shows no quorum for it`,
    );
    expect(
      await db()
        .selectFrom('routes')
        .select('stable_artifact_id')
        .where('model_name', '=', 'fraud')
        .where('env', '=', 'prod')
        .executeTakeFirst(),
    ).toEqual(before);
  });

  it('fails, naming the missing quorum, a pending critical rollback whose status was edited, leaving the route as it was', async () => {
    const [a, b] = [await registered('rb-edited'), await registered('rb-edited')];
    await applied(await promote(a.artifactId, { targetEnv: 'staging' }));
    const pending = await rollback('rb-edited', { targetEnv: 'staging', toArtifactId: b.artifactId, critical: true });
    expect(pending.status).toBe(202);
    const id = pending.body.promotionId as string;
    await db().updateTable('promotions').set({ status: 'rolling_out' }).where('promotion_id', '=', id).execute();
    expect(await stack.container.promotions.resumeUnfinished()).toContain(id);

    expect((await settled(stack, id)).status).toBe('failed');
    expect((await events(id)).find((e) => e.type === 'promotion.failed')!.payload.error).toContain(
      'waits for approvals and the audit chain shows no quorum for it',
    );
    expect(
      (
        await db()
          .selectFrom('routes')
          .select('stable_artifact_id')
          .where('model_name', '=', 'rb-edited')
          .where('env', '=', 'staging')
          .executeTakeFirstOrThrow()
      ).stable_artifact_id,
    ).toBe(a.artifactId);
  });
});
