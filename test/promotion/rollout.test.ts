import { randomBytes } from 'node:crypto';
import { statementBytes, verifyRaw } from '../../lib/kernel/signatures.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { ScriptedJudge, settled } from './support.js';
import { flipByte, storedVersionFile } from '../support/tamper.js';

const judge = new ScriptedJudge();
let stack: Stack;
let promoter: string;

beforeAll(async () => {
  stack = await startStack({}, { judge, waitMs: 5 });
  promoter = (await stack.api('POST', '/v1/tokens', { principal: 'release-bot', role: 'promoter' })).body.token;
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
const states = (p: { trace: { state: string }[] }) => p.trace.map((t) => t.state);

describe('promotion rollouts on the local stack', () => {
  it('promotes to staging: allowed, record signed, rollout runs to completion, route updated', async () => {
    const artifactId = await registered('ranker');
    const res = await promote(artifactId, { targetEnv: 'staging' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      artifactId,
      targetEnv: 'staging',
      policyDecision: { decision: 'allow', rules: ['promoter-default-permit'] },
    });
    const done = await settled(stack, res.body.promotionId);
    expect(done.status).toBe('succeeded');
    expect(done.appliedAt).not.toBeNull();
    expect(states(done)).toEqual(['StartCanary', 'PromoteFully']);
    const key = (await stack.api('GET', '/v1/keys')).body.keys.find((k: { kid: string }) => k.kid === done.recordSignature.signerId);
    const record = {
      promotionId: done.promotionId,
      kind: 'promote',
      artifactId,
      targetEnv: 'staging',
      manifestSignatureId: done.manifestSignatureId,
      status: 'succeeded',
      appliedAt: done.appliedAt,
    };
    expect(
      verifyRaw(key.alg, key.publicKey, statementBytes({ type: 'aegis.promotion-record/v1', ...record }), done.recordSignature.signature),
    ).toBe(true);
    const lineage = (await stack.api('GET', `/v1/lineage/${artifactId}`)).body;
    expect(lineage.promotions).toEqual([
      expect.objectContaining({ promotionId: done.promotionId, targetEnv: 'staging', status: 'succeeded' }),
    ]);
    expect(lineage.deployments).toEqual([{ env: 'staging', role: 'stable', percent: 100 }]);
    const history = (await stack.api('GET', `/v1/registry/promotions/${artifactId}`)).body.items;
    expect(history.map((p: { status: string }) => p.status)).toEqual(['succeeded']);
    const events = (await stack.api('GET', `/v1/audit?subject=promotion:${done.promotionId}`)).body.items.map(
      (e: { type: string }) => e.type,
    );
    expect(events[0]).toBe('promotion.requested');
    expect(events[events.length - 1]).toBe('promotion.applied');
  });

  it('steps a canary up through its stages on passing verdicts, then promotes', async () => {
    const artifactId = await registered('ranker-canary');
    const res = await promote(artifactId, { targetEnv: 'canary', canary: { percent: 10, steps: 3, windowSeconds: 60 } });
    const done = await settled(stack, res.body.promotionId);
    expect(done.status).toBe('succeeded');
    expect(states(done)).toEqual(['StartCanary', 'Evaluate', 'StepUp', 'Evaluate', 'StepUp', 'Evaluate', 'PromoteFully']);
    const percents = done.trace
      .filter((t: { state: string }) => t.state !== 'PromoteFully')
      .map((t: { output: { percent: number } }) => t.output.percent);
    expect(percents).toEqual([10, 10, 40, 40, 70, 70]);
  });

  it('rolls back when the judge fails the canary', async () => {
    judge.script.push('pass', 'fail');
    const artifactId = await registered('ranker-fail');
    const res = await promote(artifactId, { targetEnv: 'canary', canary: { steps: 3 } });
    const done = await settled(stack, res.body.promotionId);
    expect(done.status).toBe('rolled_back');
    expect(states(done)).toEqual(['StartCanary', 'Evaluate', 'StepUp', 'Evaluate', 'RollBack']);
    expect(done.appliedAt).toBeNull();
  });

  it('waits again on inconclusive verdicts, and rolls back past the limit', async () => {
    judge.script.push('inconclusive', 'pass');
    const a = await registered('ranker-slow');
    const ok = await settled(stack, (await promote(a, { targetEnv: 'canary', canary: { steps: 1 } })).body.promotionId);
    expect(ok.status).toBe('succeeded');
    expect(states(ok)).toEqual(['StartCanary', 'Evaluate', 'Evaluate', 'PromoteFully']);

    judge.script.push('inconclusive', 'inconclusive', 'inconclusive');
    const b = await registered('ranker-never');
    const gaveUp = await settled(
      stack,
      (await promote(b, { targetEnv: 'canary', canary: { steps: 1, maxInconclusive: 2 } })).body.promotionId,
    );
    expect(gaveUp.status).toBe('rolled_back');
    expect(states(gaveUp)).toEqual(['StartCanary', 'Evaluate', 'Evaluate', 'Evaluate', 'RollBack']);
  });

  it('rolls back when a task keeps erroring (1 attempt + 2 retries)', async () => {
    judge.script.push('throw', 'throw', 'throw');
    const a = await registered('ranker-error');
    const done = await settled(stack, (await promote(a, { targetEnv: 'canary', canary: { steps: 2 } })).body.promotionId);
    expect(done.status).toBe('rolled_back');
    expect(done.trace.find((t: { state: string }) => t.state === 'Evaluate').error).toMatch(/metrics store unreachable/);
    expect(states(done).at(-1)).toBe('RollBack');
  });

  it('goes on when a task error is transient: the retry succeeds and nothing rolls back', async () => {
    judge.script.push('throw');
    const a = await registered('ranker-blip');
    const done = await settled(stack, (await promote(a, { targetEnv: 'canary', canary: { steps: 1 } })).body.promotionId);
    expect(done.status).toBe('succeeded');
  });

  it('refuses prod without a completed canary, naming the rule, and allows it after one', async () => {
    const a = await registered('ranker-prod');
    const denied = await promote(a, { targetEnv: 'prod' });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: 'POLICY_DENIED', details: { rules: ['prod-requires-completed-canary'] } });
    await settled(stack, (await promote(a, { targetEnv: 'canary', canary: { steps: 1 } })).body.promotionId);
    const allowed = await promote(a, { targetEnv: 'prod', canary: { steps: 1 } });
    expect(allowed.status).toBe(201);
    expect((await settled(stack, allowed.body.promotionId)).status).toBe('succeeded');
  });

  it('answers 409 while another promotion of the model to that environment is in flight', async () => {
    judge.hold();
    const a = await registered('ranker-busy');
    const first = await promote(a, { targetEnv: 'canary', canary: { steps: 1 } });
    const b = await registered('ranker-busy');
    const second = await promote(b, { targetEnv: 'canary' });
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: 'CONFLICT', field: 'targetEnv', details: { promotionId: first.body.promotionId } });
    judge.release();
    expect((await settled(stack, first.body.promotionId)).status).toBe('succeeded');
    expect((await promote(b, { targetEnv: 'canary', canary: { steps: 1 } })).status).toBe(201);
  });

  it('blocks a tampered artifact before the policy is asked', async () => {
    const a = await registered('ranker-tampered');
    const rec = (await stack.api('GET', `/v1/registry/${a}`)).body;
    await flipByte(storedVersionFile(stack.dataDir, rec.storage), 0);
    const res = await promote(a, { targetEnv: 'staging' });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'VERIFICATION_FAILED', field: 'artifactId' });
    expect((await stack.api('GET', `/v1/registry/promotions/${a}`)).body.items).toEqual([]);
  });

  it('refuses callers without the promoter role', async () => {
    const a = await registered('ranker-roles');
    const auditor = (await stack.api('POST', '/v1/tokens', { principal: 'aud', role: 'auditor' })).body.token;
    const res = await stack.api('POST', `/v1/registry/${a}/promote`, { targetEnv: 'staging', reason: 'x' }, { token: auditor });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
  });
});

describe('metrics', () => {
  it('serves Prometheus metrics for registrations and promotions at /metrics', async () => {
    const res = await fetch(`${stack.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/aegis_registry_registrations_total\{outcome="created"\} [1-9]/);
    expect(text).toMatch(/aegis_registry_promotions_total\{env="staging",outcome="succeeded"\} [1-9]/);
    expect(text).toMatch(/ai_infra_canary_rollbacks_total\{env="canary"\} [1-9]/);
    // every judged window counted by its verdict (the fail alarm's series on AWS)
    expect(text).toMatch(/ai_infra_canary_verdicts_total\{env="canary",verdict="fail"\} [1-9]/);
    expect(text).toMatch(/ai_infra_promotion_latency_seconds_count\{env="canary",outcome="rolled_back"\} [1-9]/);
    expect(text).toMatch(/ai_infra_artifact_registration_latency_seconds_count [1-9]/);
  });

  it("follows a canary's traffic share: the stage's percent while it is judged, 0 once the rollout ends", async () => {
    const artifactId = await registered('ranker-share');
    judge.hold();
    const res = await promote(artifactId, { targetEnv: 'canary', canary: { percent: 15, steps: 2 } });
    const deadline = Date.now() + 10_000;
    while (!judge.calls.some((w) => w.canaryArtifactId === artifactId) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const share = async () =>
      (await (await fetch(`${stack.url}/metrics`)).text()).match(
        /^ai_infra_canary_traffic_percent\{model="ranker-share",env="canary"\} (\d+)$/m,
      )?.[1];
    expect(await share()).toBe('15');
    judge.release();
    expect((await settled(stack, res.body.promotionId)).status).toBe('succeeded');
    expect(await share()).toBe('0');
  });
});

describe('manual rollback and tampered manifests', () => {
  it('rolls an environment back to a named earlier artifact, policy-checked and audited', async () => {
    const first = await registered('ranker-rollback');
    const second = await registered('ranker-rollback');
    await settled(stack, (await promote(first, { targetEnv: 'staging' })).body.promotionId);
    await settled(stack, (await promote(second, { targetEnv: 'staging' })).body.promotionId);
    expect((await stack.api('GET', `/v1/lineage/${second}`)).body.deployments).toEqual([{ env: 'staging', role: 'stable', percent: 100 }]);

    const rb = await stack.api(
      'POST',
      '/v1/registry/models/ranker-rollback/rollback',
      { targetEnv: 'staging', toArtifactId: first, reason: 'second misbehaves' },
      { token: promoter },
    );
    expect(rb.status).toBe(201);
    expect(rb.body).toMatchObject({ kind: 'rollback', artifactId: first, policyDecision: { decision: 'allow' } });
    const done = await settled(stack, rb.body.promotionId);
    expect(done.status).toBe('succeeded');
    expect(states(done)).toEqual(['SetRoute']);
    expect((await stack.api('GET', `/v1/lineage/${first}`)).body.deployments).toEqual([{ env: 'staging', role: 'stable', percent: 100 }]);
    expect((await stack.api('GET', `/v1/lineage/${second}`)).body.deployments).toEqual([]);

    const again = await stack.api(
      'POST',
      '/v1/registry/models/ranker-rollback/rollback',
      { targetEnv: 'staging', toArtifactId: first, reason: 'twice' },
      { token: promoter },
    );
    expect(again.status).toBe(409);
    const other = await registered('someone-else');
    const wrongModel = await stack.api(
      'POST',
      '/v1/registry/models/ranker-rollback/rollback',
      { targetEnv: 'staging', toArtifactId: other, reason: 'x' },
      { token: promoter },
    );
    expect(wrongModel.body.error).toMatchObject({ code: 'NOT_FOUND', field: 'toArtifactId' });
  });

  it('requires multisig for a critical rollback', async () => {
    const a = await registered('ranker-critical');
    const b = await registered('ranker-critical');
    await settled(stack, (await promote(a, { targetEnv: 'staging' })).body.promotionId);
    await settled(stack, (await promote(b, { targetEnv: 'staging' })).body.promotionId);
    const rb = await stack.api(
      'POST',
      '/v1/registry/models/ranker-critical/rollback',
      { targetEnv: 'staging', toArtifactId: a, reason: 'incident', critical: true },
      { token: promoter },
    );
    expect(rb.status).toBe(202);
    expect(rb.body).toMatchObject({
      status: 'pending_multisig',
      policyDecision: { decision: 'require_multisig', rules: ['critical-rollback-multisig'] },
    });
  });

  it('blocks a promotion whose stored manifest was edited, before the policy is asked', async () => {
    const a = await registered('ranker-edited');
    const row = await stack.container.database.db
      .selectFrom('artifacts')
      .select('manifest')
      .where('artifact_id', '=', a)
      .executeTakeFirstOrThrow();
    await stack.container.database.db
      .updateTable('artifacts')
      .set({ manifest: row.manifest.replace('"seed":42', '"seed":43') })
      .where('artifact_id', '=', a)
      .execute();
    const res = await promote(a, { targetEnv: 'staging' });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('VERIFICATION_FAILED');
    expect(res.body.error.message).toMatch(/signature/);
    expect(
      (await stack.api('GET', `/v1/audit?type=promotion.requested&limit=1000`)).body.items.filter(
        (e: { payload: { artifactId: string } }) => e.payload.artifactId === a,
      ),
    ).toEqual([]);
  });
});
