import type { AuditEvent } from '../../lib/kernel/audit-chain.js';
import { planPromotions, replayOrRefuse, replayPromotions } from '../../lib/recovery/promotions.js';
import { emptyPlan } from '../../lib/recovery/rows.js';
import { NOT_RESTORED, RecoveryError, type RebuildReport } from '../../lib/recovery/types.js';

let seq = 0;
const ts = (s: number) => new Date(Date.UTC(2026, 10, 22, 10, 0, s)).toISOString();
function ev(type: string, id: string, payload: Record<string, unknown>, actor = 'rollout'): AuditEvent {
  seq++;
  return {
    seq,
    eventId: `e${seq}`,
    type,
    actor,
    subject: `promotion:${id}`,
    payload,
    ts: ts(seq),
    prevHash: '0'.repeat(64),
    hash: '1'.repeat(64),
    signature: 'c2ln',
    signerId: 'audit-signer-v1',
  };
}
const sig = { signerId: 'manifest-signer-v1', alg: 'ed25519', ts: ts(0), signature: 'c2ln' };
const canary = { percent: 10, windowSeconds: 60, steps: 3, rollbackThreshold: 0.02, maxInconclusive: 3 };
function requested(id: string, over: Record<string, unknown> = {}) {
  const decision = (over.status ?? 'rolling_out') === 'pending_multisig' ? 'require_multisig' : over.status === 'denied' ? 'deny' : 'allow';
  return ev(
    'promotion.requested',
    id,
    {
      promotionId: id,
      kind: 'promote',
      artifactId: `art-${id}`,
      targetEnv: 'canary',
      manifestSignatureId: `sig-${id}`,
      status: 'rolling_out',
      policyDecision: { decision, rules: ['r'], reasons: ['why'], engine: 'cedar', extra: 1 },
      createdAt: ts(0),
      reason: 'because',
      modelName: 'm',
      canary,
      threshold: null,
      recordSignature: sig,
      ...over,
    },
    'alice',
  );
}
const step = (id: string, action: string, state: [number, number, number], route: Record<string, unknown> = {}) =>
  ev('promotion.step', id, { action, stage: state[0], percent: state[1], inconclusive: state[2], windowSeconds: 60, route });
const ended = (
  id: string,
  type: 'promotion.applied' | 'promotion.rolled_back' | 'promotion.failed',
  over: Record<string, unknown> = {},
) => {
  const status = { 'promotion.applied': 'succeeded', 'promotion.rolled_back': 'rolled_back', 'promotion.failed': 'failed' }[type];
  return ev(type, id, {
    promotionId: id,
    kind: 'promote',
    artifactId: `art-${id}`,
    targetEnv: 'canary',
    manifestSignatureId: `sig-${id}`,
    status,
    appliedAt: status === 'succeeded' ? ts(99) : null,
    recordSignature: { ...sig, ts: ts(99) },
    ...over,
  });
};

describe('replaying promotion events', () => {
  it('leaves a rollout that was under way rolling out: in flight, at its last saved stage, canary routed', () => {
    const events = [
      requested('p1'),
      step('p1', 'start', [0, 10, 0], { canary_artifact_id: 'art-p1', canary_percent: 10 }),
      step('p1', 'evaluate', [0, 10, 1]),
      step('p1', 'stepUp', [1, 40, 0], { canary_percent: 40 }),
    ];
    const r = replayPromotions(events);
    expect(r.problems).toEqual([]);
    expect(r.promotions).toEqual([
      expect.objectContaining({
        promotion_id: 'p1',
        status: 'rolling_out',
        in_flight_key: 'm:canary',
        requested_by: 'alice',
        rollout_state: '{"inconclusive":0,"percent":40,"stage":1,"windowSeconds":60}',
      }),
    ]);
    expect(JSON.parse(r.promotions[0]!.policy_decision)).toMatchObject({ extra: 1 }); // loose: every recorded key kept
    expect(r.routes).toEqual([
      {
        model_name: 'm',
        env: 'canary',
        stable_artifact_id: null,
        canary_artifact_id: 'art-p1',
        canary_percent: 40,
        // no shadow (migration 0014): a canary's route
        shadow_artifact_id: null,
        shadow_percent: 0,
        promotion_id: 'p1',
        updated_at: new Date(events[3]!.ts),
      },
    ]);
    expect(r.steps.map((s) => [s.step, s.state, s.input])).toEqual([
      [1, 'StartCanary', '{"action":"start"}'],
      [2, 'Evaluate', '{"action":"evaluate"}'],
      [3, 'StepUp', '{"action":"stepUp"}'],
    ]);
  });

  it('restores the stage timing, the rollback reason and every judged window from the step events (issue 10)', () => {
    const window = {
      seq: 1,
      stage: 0,
      percent: 10,
      from: ts(1),
      to: ts(2),
      verdict: 'inconclusive',
      reason: 'insufficient-traffic',
      next: 'rollback',
      requests: { stable: 90, canary: 10 },
      errors: null,
      detail: 'canary has 10 requests',
      judgement: { verdict: 'inconclusive' },
      judgedAt: ts(2),
    };
    const events = [
      requested('v'),
      ev('promotion.step', 'v', {
        action: 'start',
        stage: 0,
        percent: 10,
        inconclusive: 0,
        windowSeconds: 60,
        stageStartedAt: ts(1),
        canaryStartedAt: ts(1),
        route: { canary_artifact_id: 'art-v', canary_percent: 10 },
      }),
      ev('promotion.step', 'v', {
        action: 'evaluate',
        stage: 0,
        percent: 10,
        inconclusive: 1,
        windowSeconds: 60,
        stageStartedAt: ts(1),
        canaryStartedAt: ts(1),
        reason: 'insufficient-traffic',
        route: {},
        verdict: 'inconclusive',
        detail: 'x',
        next: 'rollback',
        window,
      }),
      ended('v', 'promotion.rolled_back', { reason: 'insufficient-traffic' }),
    ];
    const r = replayPromotions(events);
    expect(r.problems).toEqual([]);
    expect(JSON.parse(r.promotions[0]!.rollout_state!)).toEqual({
      stage: 0,
      percent: 0,
      inconclusive: 1,
      windowSeconds: 60,
      stageStartedAt: ts(1),
      canaryStartedAt: ts(1),
      reason: 'insufficient-traffic',
    });
    expect(r.verdicts).toEqual([
      {
        promotion_id: 'v',
        seq: 1,
        stage: 0,
        percent: 10,
        window_from: new Date(ts(1)),
        window_to: new Date(ts(2)),
        verdict: 'inconclusive',
        reason: 'insufficient-traffic',
        next: 'rollback',
        stable_requests: 90,
        canary_requests: 10,
        stable_errors: null,
        canary_errors: null,
        detail: 'canary has 10 requests',
        judgement: '{"verdict":"inconclusive"}',
        judged_at: new Date(ts(2)),
        // a canary window (migration 0014): no phase, no agreement
        phase: null,
        agreement_compared: null,
        agreement_agreed: null,
      },
    ]);
  });

  it('restores a shadow in flight (route shadow, phase, agreement) and a blue-green hold (green the canary at 100 %) (issue 19)', () => {
    const window = {
      seq: 1,
      stage: -1,
      percent: 0,
      from: ts(1),
      to: ts(2),
      verdict: 'pass',
      reason: 'pass',
      next: 'wait',
      requests: { stable: 900, canary: 450 },
      errors: { stable: 0, canary: 0 },
      detail: 'pass; agreement: 441 of 450',
      judgement: null,
      judgedAt: ts(2),
      phase: 'shadow',
      agreement: { compared: 450, agreed: 441 },
    };
    const shadowing = { stage: -1, percent: 0, inconclusive: 0, windowSeconds: 60, stageStartedAt: ts(1), phase: 'shadow' };
    const events = [
      requested('s', { canary: { ...canary, strategy: 'shadow', shadow: { percent: 50, windows: 2, minAgreement: 0.9, then: 'canary' } } }),
      ev('promotion.step', 's', {
        action: 'start',
        ...shadowing,
        shadowPassed: 0,
        route: { shadow_artifact_id: 'art-s', shadow_percent: 50 },
      }),
      ev('promotion.step', 's', {
        action: 'evaluate',
        ...shadowing,
        shadowPassed: 1,
        route: {},
        verdict: 'pass',
        detail: 'x',
        next: 'wait',
        window,
      }),
      requested('b', { modelName: 'n', canary: { ...canary, strategy: 'blue-green', blueGreen: { holdSeconds: 600, warmUpRequests: 5 } } }),
      ev('promotion.step', 'b', { action: 'start', stage: -1, percent: 0, inconclusive: 0, windowSeconds: 0, phase: 'warming', route: {} }),
      ev('promotion.step', 'b', {
        action: 'warmUp',
        stage: -1,
        percent: 100,
        inconclusive: 0,
        windowSeconds: 600,
        stageStartedAt: ts(5),
        phase: 'hold',
        route: { canary_artifact_id: 'art-b', canary_percent: 100 },
        warmUp: { ok: true, answered: 5, requests: 5, inputs: 'synthetic' },
        next: 'wait',
      }),
    ];
    const r = replayPromotions(events);
    expect(r.problems).toEqual([]);
    expect(r.promotions.map((p) => [p.promotion_id, p.status, JSON.parse(p.rollout_state!)])).toEqual([
      ['s', 'rolling_out', { ...shadowing, shadowPassed: 1 }],
      ['b', 'rolling_out', { stage: -1, percent: 100, inconclusive: 0, windowSeconds: 600, stageStartedAt: ts(5), phase: 'hold' }],
    ]);
    expect(
      r.routes.map((x) => [
        x.model_name,
        x.stable_artifact_id,
        x.canary_artifact_id,
        x.canary_percent,
        x.shadow_artifact_id,
        x.shadow_percent,
      ]),
    ).toEqual([
      ['m', null, null, 0, 'art-s', 50],
      ['n', null, 'art-b', 100, null, 0],
    ]);
    expect(r.verdicts).toEqual([
      expect.objectContaining({ promotion_id: 's', phase: 'shadow', agreement_compared: 450, agreement_agreed: 441 }),
    ]);
    expect(r.steps.filter((x) => x.promotion_id === 'b').map((x) => x.state)).toEqual(['StartCanary', 'WarmUp']);
  });

  it('ends a failed rollout as RolloutService does: canary cleared, stable kept, signed, out of flight', () => {
    const r = replayPromotions([
      requested('a', { targetEnv: 'staging', canary: { ...canary, steps: 0 } }),
      ended('a', 'promotion.applied', { targetEnv: 'staging' }),
      requested('b', { artifactId: 'art-b', targetEnv: 'staging' }),
      step('b', 'start', [0, 10, 0], { canary_artifact_id: 'art-b', canary_percent: 10 }),
      ended('b', 'promotion.failed', { targetEnv: 'staging', error: 'boom' }),
    ]);
    expect(r.problems).toEqual([]);
    expect(r.promotions.map((p) => [p.promotion_id, p.status, p.in_flight_key, p.applied_at, p.rollout_state])).toEqual([
      ['a', 'succeeded', null, new Date(ts(99)), '{"inconclusive":0,"percent":100,"stage":-1,"windowSeconds":0}'],
      ['b', 'failed', null, null, '{"inconclusive":0,"percent":0,"stage":0,"windowSeconds":60}'],
    ]);
    expect(r.routes).toEqual([
      expect.objectContaining({ stable_artifact_id: 'art-a', canary_artifact_id: null, canary_percent: 0, promotion_id: 'b' }),
    ]);
    expect(r.steps.filter((s) => s.promotion_id === 'b').map((s) => s.state)).toEqual(['StartCanary', 'RecordFailure']);
  });

  it('counts approvals to the threshold and only then rolls out; a denied request is never in flight', () => {
    const approval = (n: number, kid: string) =>
      ev(
        'promotion.approval_accepted',
        'p',
        { approverId: kid, signature: 'c2ln', count: n, threshold: 2, expiresAt: ts(500), at: ts(n) },
        'desk',
      );
    const events = [
      requested('d', { status: 'denied', threshold: null }),
      requested('p', { status: 'pending_multisig', threshold: 2 }),
      approval(1, 'k1'),
      ev('promotion.approval_refused', 'p', { approverId: 'k1', refusal: 'duplicate' }),
      approval(2, 'k2'),
      ev('promotion.approved', 'p', { approvers: ['k1', 'k2'], threshold: 2 }),
    ];
    const r = replayPromotions(events);
    expect(r.problems).toEqual([]);
    expect(r.promotions.map((p) => [p.status, p.in_flight_key])).toEqual([
      ['denied', null],
      ['rolling_out', 'm:canary'],
    ]);
    expect(r.approvals.map((a) => [a.approver_kid, a.created_at])).toEqual([
      ['k1', new Date(ts(1))],
      ['k2', new Date(ts(2))],
    ]);
  });

  it('counts only approvals valid at each approval, lets an approver renew a stale one, and replays cancellations and expiries', () => {
    seq = 200;
    const accepted = (id: string, kid: string, at: number, count: number, counted: string[], expiresAt: number, renews = false) =>
      ev(
        'promotion.approval_accepted',
        id,
        {
          approverId: kid,
          signature: `s-${kid}-${at}`,
          count,
          threshold: 2,
          expiresAt: ts(expiresAt),
          at: ts(at),
          counted,
          ...(renews ? { renews } : {}),
        },
        'desk',
      );
    const enrolled = (kid: string) => ({
      ...ev('key.enrolled', 'x', { key: { kid, purpose: 'approver', notAfter: null } }, 'admin'),
      subject: `key:${kid}`,
    });
    const revoked = (kid: string, at: number) => ({
      ...ev('key.revoked', 'x', { kid, purpose: 'approver', revokedAt: ts(at) }, 'admin'),
      subject: `key:${kid}`,
    });
    const closed = (id: string, type: 'promotion.cancelled' | 'promotion.expired') =>
      ev(type, id, {
        promotionId: id,
        kind: 'promote',
        artifactId: `art-${id}`,
        modelName: 'm',
        targetEnv: 'canary',
        status: type === 'promotion.cancelled' ? 'cancelled' : 'expired',
        createdAt: ts(0),
        expiresAt: ts(900),
        at: ts(300),
        reason: 'r',
      });
    const events = [
      enrolled('k1'),
      enrolled('k2'),
      enrolled('k3'),
      requested('q', { status: 'pending_multisig', threshold: 2 }),
      accepted('q', 'k1', 1, 1, ['k1'], 5), // expires at 5
      accepted('q', 'k2', 10, 1, ['k2'], 500), // k1 no longer counts
      accepted('q', 'k1', 11, 2, ['k1', 'k2'], 500, true), // renewed
      ev('promotion.approved', 'q', { approvers: ['k1', 'k2'], threshold: 2 }),
      requested('r', { status: 'pending_multisig', threshold: 2, targetEnv: 'staging' }),
      accepted('r', 'k3', 20, 1, ['k3'], 500),
      revoked('k3', 21),
      accepted('r', 'k2', 22, 1, ['k2'], 500), // k3 revoked: only k2 counts
      closed('r', 'promotion.cancelled'),
    ];
    const r = replayPromotions(
      events.map((e) =>
        e.subject === 'promotion:r'
          ? { ...e, payload: { ...e.payload, ...(e.type === 'promotion.cancelled' ? { targetEnv: 'staging' } : {}) } }
          : e,
      ),
    );
    expect(r.problems).toEqual([]);
    expect(r.promotions.map((p) => [p.promotion_id, p.status, p.in_flight_key])).toEqual([
      ['q', 'rolling_out', 'm:canary'],
      ['r', 'cancelled', null],
    ]);
    expect(r.approvals.map((a) => [a.promotion_id, a.approver_kid, a.created_at])).toEqual([
      ['q', 'k1', new Date(ts(11))],
      ['q', 'k2', new Date(ts(10))],
      ['r', 'k3', new Date(ts(20))],
      ['r', 'k2', new Date(ts(22))],
    ]);
    // an approval counted while the earlier one by the same key is still valid does not follow
    const twice = replayPromotions([
      requested('t', { status: 'pending_multisig', threshold: 2, targetEnv: 'prod' }),
      accepted('t', 'k9', 1, 1, ['k9'], 500),
      accepted('t', 'k9', 2, 2, ['k9'], 500, true),
    ]);
    expect(twice.problems.map((p) => p.detail)).toEqual([expect.stringContaining('counted twice')]);
    // cancelling or expiring anything but a pending promotion does not follow
    const late = replayPromotions([requested('u'), closed('u', 'promotion.expired')]);
    expect(late.problems.map((p) => p.detail)).toEqual([expect.stringContaining('only a pending promotion is expired')]);
  });

  it('reports every event that is malformed or does not follow, and refuses with them', () => {
    seq = 100;
    const events = [
      requested('x', { status: 'pending_multisig', threshold: null }), // status without its threshold
      requested('y'),
      requested('z'), // same model and env while y is in flight
      ev('promotion.approved', 'y', { approvers: ['k'], threshold: 3 }), // y is not pending
      ended('y', 'promotion.applied'),
      ended('y', 'promotion.rolled_back'), // already ended
      step('ghost', 'start', [0, 5, 0]),
      ev('promotion.step', 'y', { action: 'teleport', stage: 0, percent: 5, inconclusive: 0, windowSeconds: 0, route: {} }),
    ];
    const r = replayPromotions(events);
    expect(r.problems.map((p) => [p.seq, p.code])).toEqual([
      [101, 'payload-invalid'],
      [103, 'conflict'],
      [104, 'conflict'],
      [106, 'conflict'],
      [107, 'conflict'],
      [108, 'payload-invalid'],
    ]);
    expect(() => replayOrRefuse(events)).toThrow(RecoveryError);
    try {
      replayOrRefuse(events);
    } catch (e) {
      expect((e as RecoveryError).problems).toHaveLength(6);
      expect((e as RecoveryError).message).toContain('seq 107: promotion.step: no earlier promotion.requested for ghost');
    }
  });

  it('leaves out, and reports, the promotions of an artifact that is not restored', () => {
    const rows = replayPromotions([requested('a'), step('a', 'start', [0, 10, 0], { canary_artifact_id: 'art-a', canary_percent: 10 })]);
    const plan = emptyPlan();
    const report = { problems: [] } as unknown as RebuildReport;
    planPromotions(rows, plan, report);
    expect([plan.promotions, plan.steps, plan.routes.length]).toEqual([[], [], 1]);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'promotion', id: 'a', problem: 'artifact-not-restored' })]);
    expect(NOT_RESTORED.join(' ')).toContain('promotion_steps');
  });
  it('replays an expiry: the pending promotion is expired and out of flight, and its model and environment free again', () => {
    seq = 300;
    const expired = ev('promotion.expired', 'x', {
      promotionId: 'x',
      kind: 'promote',
      artifactId: 'art-x',
      modelName: 'm',
      targetEnv: 'canary',
      status: 'expired',
      createdAt: ts(0),
      expiresAt: ts(301),
      at: ts(302),
    });
    const r = replayPromotions([requested('x', { status: 'pending_multisig', threshold: 2 }), expired, requested('y')]);
    expect(r.problems).toEqual([]);
    expect(r.promotions.map((p) => [p.promotion_id, p.status, p.in_flight_key])).toEqual([
      ['x', 'expired', null],
      ['y', 'rolling_out', 'm:canary'],
    ]);
    expect([r.steps, r.routes]).toEqual([[], []]);
  });
});
