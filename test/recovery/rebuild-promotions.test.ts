import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgliteDatabase } from '../../lib/platform/adapters/sql/pglite.js';
import { migrateToLatest } from '../../lib/platform/sql/migrations.js';
import type { Database } from '../../lib/platform/ports/database.js';
import { diffSnapshots, registrySnapshot } from '../../lib/recovery/parity.js';
import { rebuildIndex, RecoveryError, type RebuildReport } from '../../lib/recovery/rebuild.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { approve, approverKey, highRiskPolicies, ScriptedJudge, settled, type Approver } from '../promotion/support.js';
import { legacyAuditLog } from '../support/legacy-writer.js';
import { openTarget, recoveryDeps } from './support.js';
import { EVENT_CATALOGUE } from '../../lib/modules/catalogue.js';

const judge = new ScriptedJudge();
let policies: string;
let source: Stack;
let rebuilt: Stack | undefined;
let rebuiltDir: string;
let report: RebuildReport;
let promoter: string;
let approverToken: string;
const approvers: Approver[] = Array.from({ length: 4 }, (_, i) => approverKey(`approver-${i + 1}`, `approver${i + 1}@example.com`));
const ids: Record<string, string> = {};
let pending: { promotionId: string; artifactId: string; manifestSha256: string; targetEnv: string };

async function registered(stack: Stack, model: string): Promise<{ artifactId: string; manifestSha256: string }> {
  const r = await uploadAndRegister(stack, model, randomBytes(900));
  if (r.status !== 201) throw new Error(`register ${model}: ${r.status} ${JSON.stringify(r.body)}`);
  return {
    artifactId: r.body.artifactId,
    manifestSha256: (await stack.api('GET', `/v1/registry/${r.body.artifactId}`)).body.manifestSha256,
  };
}

async function promoted(name: string, artifactId: string, body: Record<string, unknown>, expected: string): Promise<string> {
  const res = await source.api('POST', `/v1/registry/${artifactId}/promote`, { reason: `test ${name}`, ...body }, { token: promoter });
  ids[name] = res.body.promotionId ?? res.body.error?.details?.promotionId;
  if (!ids[name]) throw new Error(`promote ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  if (expected !== 'denied' && expected !== 'pending_multisig') expect((await settled(source, ids[name]!)).status).toBe(expected);
  return ids[name]!;
}

async function approveAll(stack: Stack, p: typeof pending, who: Approver[]) {
  let last;
  for (const a of who) {
    last = await stack.api('POST', `/v1/promotions/${p.promotionId}/approvals`, approve(a, p), { token: approverToken });
    if (last.status !== 200) throw new Error(`approve ${a.kid}: ${last.status} ${JSON.stringify(last.body)}`);
  }
  return last!;
}

beforeAll(async () => {
  policies = await highRiskPolicies('fraud');
  source = await startStack({ AEGIS_POLICIES_DIR: policies }, { judge, waitMs: 5 });
  promoter = (await source.api('POST', '/v1/tokens', { principal: 'alice', role: 'promoter' })).body.token;
  approverToken = (await source.api('POST', '/v1/tokens', { principal: 'approvals-desk', role: 'approver' })).body.token;
  for (const a of approvers)
    expect((await source.api('POST', '/v1/keys', { kid: a.kid, purpose: 'approver', publicKey: a.publicKey, owner: a.owner })).status).toBe(
      201,
    );

  const rankerA = await registered(source, 'ranker');
  const rankerB = await registered(source, 'ranker');
  const fraudC = await registered(source, 'fraud');
  const fraudD = await registered(source, 'fraud');
  await promoted('staging', rankerA.artifactId, { targetEnv: 'staging' }, 'succeeded');
  judge.script.push('pass', 'fail');
  await promoted('canaryFailed', rankerB.artifactId, { targetEnv: 'canary', canary: { steps: 3 } }, 'rolled_back');
  await promoted('stagingB', rankerB.artifactId, { targetEnv: 'staging' }, 'succeeded');
  const back = await source.api(
    'POST',
    '/v1/registry/models/ranker/rollback',
    { targetEnv: 'staging', toArtifactId: rankerA.artifactId, reason: 'B misbehaves' },
    { token: promoter },
  );
  ids.manualRollback = back.body.promotionId;
  expect((await settled(source, ids.manualRollback!)).status).toBe('succeeded');
  await promoted('denied', rankerA.artifactId, { targetEnv: 'prod' }, 'denied');
  // fraud is high risk: its first deployment to prod (prodC) has nothing to mirror and runs a
  // canary; once it serves prod, later promotions there need a shadow (high-risk-prod-requires-shadow)
  await promoted('canaryC', fraudC.artifactId, { targetEnv: 'canary', canary: { steps: 1 } }, 'succeeded');
  const prodC = {
    promotionId: await promoted('prodC', fraudC.artifactId, { targetEnv: 'prod', canary: { steps: 2 } }, 'pending_multisig'),
    ...fraudC,
    targetEnv: 'prod',
  };
  await approveAll(source, prodC, approvers.slice(0, 3));
  expect((await settled(source, prodC.promotionId)).status).toBe('succeeded');
  await promoted('canaryD', fraudD.artifactId, { targetEnv: 'canary', canary: { steps: 1 } }, 'succeeded');
  // a pending promotion cancelled by its requester after one approval
  const cancelled = {
    promotionId: await promoted(
      'cancelled',
      fraudD.artifactId,
      { targetEnv: 'prod', strategy: 'shadow', canary: { steps: 1 } },
      'pending_multisig',
    ),
    ...fraudD,
    targetEnv: 'prod',
  };
  await approveAll(source, cancelled, approvers.slice(3, 4));
  expect(
    (await source.api('POST', `/v1/promotions/${cancelled.promotionId}/cancel`, { reason: 'wrong window' }, { token: promoter })).body
      .status,
  ).toBe('cancelled');
  pending = {
    promotionId: await promoted(
      'pending',
      fraudD.artifactId,
      { targetEnv: 'prod', strategy: 'shadow', canary: { steps: 1 } },
      'pending_multisig',
    ),
    ...fraudD,
    targetEnv: 'prod',
  };
  await approveAll(source, pending, approvers.slice(0, 2));
  await source.container.auditTrail.archive();

  // Rebuild into a migrated-only database in a fresh data folder holding only the storage.
  rebuiltDir = await mkdtemp(join(tmpdir(), 'aegis-rebuilt-'));
  const target = await PgliteDatabase.open(join(rebuiltDir, 'pg'));
  try {
    await migrateToLatest(target.db);
    report = await rebuildIndex(recoveryDeps(source, target), { verifyBytes: true });
  } finally {
    await target.close();
  }
  for (const part of ['objects', 'audit-archive', 'keys'])
    await cp(join(source.dataDir, part), join(rebuiltDir, part), { recursive: true });
}, 180_000);

afterAll(async () => {
  await rebuilt?.stop();
  await source?.stop();
  if (policies) await rm(policies, { recursive: true, force: true });
});

const withoutTrace = ({ trace: _t, ...rest }: Record<string, unknown>) => rest;
const states = (p: { trace: { state: string }[] }) => p.trace.map((t) => t.state);

describe('rebuilding promotions, approvals and routes from the audit archive', () => {
  it('replays every promotion event: parity finds no difference in promotions, approvals, routes or judged windows', async () => {
    expect(report.problems).toEqual([]);
    expect(report.warnings.filter((w) => w.includes('promotion'))).toEqual([]);
    const target = await PgliteDatabase.open(join(rebuiltDir, 'pg'));
    try {
      const [left, right] = [await registrySnapshot(source.container.database), await registrySnapshot(target)];
      expect(diffSnapshots(left, right)).toEqual([]);
      expect(right.promotions.map((p) => p.status).sort()).toEqual(
        ['cancelled', 'denied', 'pending_multisig', 'rolled_back', ...Array(6).fill('succeeded')].sort(),
      );
      expect(right.approvals).toHaveLength(6);
      expect(right.promotions.find((p) => p.id === ids.cancelled)).toMatchObject({ status: 'cancelled', inFlightKey: null });
      // every judged window: canaryFailed 2, canaryC 1, prodC 2, canaryD 1
      expect(right.verdicts.map((v) => [v.promotion, v.seq, v.verdict])).toHaveLength(6);
      expect(right.verdicts.filter((v) => v.promotion === ids.canaryFailed).map((v) => [v.seq, v.verdict, v.reason, v.next])).toEqual([
        [1, 'pass', 'pass', 'step-up'],
        [2, 'fail', 'errorRate', 'rollback'],
      ]);
      expect(right.routes.map((r) => [r.id, r.stable, r.canary, r.percent])).toEqual([
        ['fraud@canary', expect.any(String), null, 0],
        ['fraud@prod', right.promotions.find((p) => p.id === ids.prodC)!.artifact, null, 0],
        ['ranker@canary', null, null, 0],
        ['ranker@staging', right.promotions.find((p) => p.id === ids.staging)!.artifact, null, 0],
      ]);
      expect(right.promotions.find((p) => p.id === ids.pending)).toMatchObject({
        inFlightKey: 'fraud:prod',
        rolloutState: null,
        appliedAt: null,
      });
    } finally {
      await target.close();
    }
  });

  it('serves every promotion as the original did: status, approvals, record, rollout state, and the trace states', async () => {
    rebuilt = await startStack({ AEGIS_POLICIES_DIR: policies }, { judge: new ScriptedJudge(), waitMs: 5, dataDir: rebuiltDir });
    for (const [name, id] of Object.entries(ids)) {
      const [before, after] = [
        (await source.api('GET', `/v1/promotions/${id}`)).body,
        (await rebuilt.api('GET', `/v1/promotions/${id}`)).body,
      ];
      expect([name, withoutTrace(after)]).toEqual([name, withoutTrace(before)]);
      expect([name, states(after)]).toEqual([name, states(before)]);
      for (const t of after.trace) expect(t.finishedAt).toBe(t.enteredAt);
    }
    const back = (await rebuilt.api('GET', `/v1/promotions/${ids.manualRollback}`)).body;
    expect(states(back)).toEqual(['SetRoute']);
    const failed = (await rebuilt.api('GET', `/v1/promotions/${ids.canaryFailed}`)).body;
    expect(failed).toMatchObject({ status: 'rolled_back', appliedAt: null, rollout: { percent: 0, stage: 1 } });
    expect(states(failed)).toEqual(['StartCanary', 'Evaluate', 'StepUp', 'Evaluate', 'RollBack']);
    expect(failed.trace[1]).toMatchObject({
      input: { action: 'evaluate' },
      output: { action: 'evaluate', verdict: 'pass', next: 'step-up' },
    });
  });

  it('lets the pending promotion gather its last approval after the rebuild, then rolls it out', async () => {
    const p = (await rebuilt!.api('GET', `/v1/promotions/${pending.promotionId}`)).body;
    expect(p).toMatchObject({ status: 'pending_multisig', threshold: 3 });
    expect(p.approvals.map((a: { approverId: string }) => a.approverId)).toEqual(['approver-1', 'approver-2']);
    const again = await rebuilt!.api('POST', `/v1/promotions/${pending.promotionId}/approvals`, approve(approvers[0]!, pending));
    expect(again.body.error).toMatchObject({ code: 'APPROVAL_REFUSED', details: { refusal: 'duplicate' } });

    const third = await rebuilt!.api('POST', `/v1/promotions/${pending.promotionId}/approvals`, approve(approvers[2]!, pending));
    expect(third.status).toBe(200);
    expect(third.body.approvals).toHaveLength(3);
    const done = await settled(rebuilt!, pending.promotionId);
    expect(done).toMatchObject({ status: 'succeeded', rollout: { percent: 100 } });
    const route = await rebuilt!.container.database.db
      .selectFrom('routes')
      .selectAll()
      .where('model_name', '=', 'fraud')
      .where('env', '=', 'prod')
      .executeTakeFirstOrThrow();
    expect(route).toMatchObject({ stable_artifact_id: pending.artifactId, canary_artifact_id: null, promotion_id: pending.promotionId });
    expect(await rebuilt!.container.auditTrail.verify()).toMatchObject({ ok: true });
  });

  it('rebuilt a chain holding every event type a module restores, but key rotations and revocations and team labels (rebuild.test.ts), failed and expired promotions (replay-promotions.test.ts), quarantines and drained routes (rebuild-quarantine.test.ts), serving deployments (rebuild-serving.test.ts), drift reports and suggestions (rebuild-drift.test.ts), event subscriptions (rebuild-events.test.ts)', async () => {
    const types = new Set((await source.container.database.db.selectFrom('audit_events').select('type').execute()).map((e) => e.type));
    const restored = Object.keys(EVENT_CATALOGUE).filter((t) => 'restoredBy' in EVENT_CATALOGUE[t]!.restore);
    expect(restored.filter((t) => !types.has(t)).sort()).toEqual([
      'drift.report',
      'drift.suggestion',
      'drift.suggestion_accepted',
      'drift.suggestion_attached',
      'drift.suggestion_dismissed',
      'drift.suggestion_resolved',
      'key.revoked',
      'key.rotated',
      'model.team.set',
      'promotion.expired',
      'promotion.failed',
      'quarantine.applied',
      'quarantine.approval_accepted',
      'quarantine.enforced',
      'quarantine.requested',
      'route.drained',
      'serving.verified',
      'subscription.created',
      'subscription.deleted',
    ]);
  });

  it('refuses, before writing anything, an archive whose promotion event does not replay', async () => {
    const c = source.container;
    await c.database.db.transaction().execute((tx) =>
      legacyAuditLog(c, 'promotion.step').append(tx, {
        type: 'promotion.step',
        actor: 'rollout',
        subject: `promotion:${ids.staging}`,
        payload: { action: 'stepUp', stage: 0, percent: 'all', route: {} },
      }),
    );
    await c.auditTrail.archive();
    const target: Database = await openTarget();
    try {
      const err = await rebuildIndex(recoveryDeps(source, target)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RecoveryError);
      expect(err).toMatchObject({
        code: 'ARCHIVE_UNVERIFIED',
        problems: [{ kind: 'promotion', problem: 'payload-invalid', detail: expect.stringContaining('promotion.step: payload percent') }],
      });
      expect(Number((await target.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq)).toBe(0);
      expect(await target.db.selectFrom('promotions').select('promotion_id').execute()).toEqual([]);
    } finally {
      await target.close();
    }
  });
});
