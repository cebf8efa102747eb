import type { AuditEvent } from '../../lib/core/audit.js';
import { planPromotions, replayOrRefuse, replayPromotions } from '../../lib/services/recovery-promotions.js';
import { emptyPlan } from '../../lib/services/recovery-rows.js';
import { NOT_RESTORED, RecoveryError, type RebuildReport } from '../../lib/services/recovery-types.js';

let seq = 0;
const ts = (s: number) => new Date(Date.UTC(2026, 10, 22, 10, 0, s)).toISOString();
function ev(type: string, id: string, payload: Record<string, unknown>, actor = 'rollout'): AuditEvent {
  seq++;
  return { seq, eventId: `e${seq}`, type, actor, subject: `promotion:${id}`, payload, ts: ts(seq), prevHash: '0'.repeat(64), hash: '1'.repeat(64), signature: 'c2ln', signerId: 'audit-signer-v1' };
}
const sig = { signerId: 'manifest-signer-v1', alg: 'ed25519', ts: ts(0), signature: 'c2ln' };
const canary = { percent: 10, windowSeconds: 60, steps: 3, rollbackThreshold: 0.02, maxInconclusive: 3 };
function requested(id: string, over: Record<string, unknown> = {}) {
  const decision = (over.status ?? 'rolling_out') === 'pending_multisig' ? 'require_multisig' : over.status === 'denied' ? 'deny' : 'allow';
  return ev(
    'promotion.requested',
    id,
    { promotionId: id, kind: 'promote', artifactId: `art-${id}`, targetEnv: 'canary', manifestSignatureId: `sig-${id}`, status: 'rolling_out', policyDecision: { decision, rules: ['r'], reasons: ['why'], engine: 'cedar', extra: 1 }, createdAt: ts(0), reason: 'because', modelName: 'm', canary, threshold: null, recordSignature: sig, ...over },
    'alice',
  );
}
const step = (id: string, action: string, state: [number, number, number], route: Record<string, unknown> = {}) => ev('promotion.step', id, { action, stage: state[0], percent: state[1], inconclusive: state[2], windowSeconds: 60, route });
const ended = (id: string, type: 'promotion.applied' | 'promotion.rolled_back' | 'promotion.failed', over: Record<string, unknown> = {}) => {
  const status = { 'promotion.applied': 'succeeded', 'promotion.rolled_back': 'rolled_back', 'promotion.failed': 'failed' }[type];
  return ev(type, id, { promotionId: id, kind: 'promote', artifactId: `art-${id}`, targetEnv: 'canary', manifestSignatureId: `sig-${id}`, status, appliedAt: status === 'succeeded' ? ts(99) : null, recordSignature: { ...sig, ts: ts(99) }, ...over });
};

describe('replaying promotion events', () => {
  it('leaves a rollout that was under way rolling out: in flight, at its last saved stage, canary routed', () => {
    const events = [requested('p1'), step('p1', 'start', [0, 10, 0], { canary_artifact_id: 'art-p1', canary_percent: 10 }), step('p1', 'evaluate', [0, 10, 1]), step('p1', 'stepUp', [1, 40, 0], { canary_percent: 40 })];
    const r = replayPromotions(events);
    expect(r.problems).toEqual([]);
    expect(r.promotions).toEqual([expect.objectContaining({ promotion_id: 'p1', status: 'rolling_out', in_flight_key: 'm:canary', requested_by: 'alice', rollout_state: '{"inconclusive":0,"percent":40,"stage":1,"windowSeconds":60}' })]);
    expect(JSON.parse(r.promotions[0]!.policy_decision)).toMatchObject({ extra: 1 }); // loose: every recorded key kept
    expect(r.routes).toEqual([{ model_name: 'm', env: 'canary', stable_artifact_id: null, canary_artifact_id: 'art-p1', canary_percent: 40, promotion_id: 'p1', updated_at: new Date(events[3]!.ts) }]);
    expect(r.steps.map((s) => [s.step, s.state, s.input])).toEqual([
      [1, 'StartCanary', '{"action":"start"}'],
      [2, 'Evaluate', '{"action":"evaluate"}'],
      [3, 'StepUp', '{"action":"stepUp"}'],
    ]);
  });

  it('ends a failed rollout as RolloutService does: canary cleared, stable kept, signed, out of flight', () => {
    const r = replayPromotions([requested('a', { targetEnv: 'staging', canary: { ...canary, steps: 0 } }), ended('a', 'promotion.applied', { targetEnv: 'staging' }), requested('b', { artifactId: 'art-b', targetEnv: 'staging' }), step('b', 'start', [0, 10, 0], { canary_artifact_id: 'art-b', canary_percent: 10 }), ended('b', 'promotion.failed', { targetEnv: 'staging', error: 'boom' })]);
    expect(r.problems).toEqual([]);
    expect(r.promotions.map((p) => [p.promotion_id, p.status, p.in_flight_key, p.applied_at, p.rollout_state])).toEqual([
      ['a', 'succeeded', null, new Date(ts(99)), '{"inconclusive":0,"percent":100,"stage":-1,"windowSeconds":0}'],
      ['b', 'failed', null, null, '{"inconclusive":0,"percent":0,"stage":0,"windowSeconds":60}'],
    ]);
    expect(r.routes).toEqual([expect.objectContaining({ stable_artifact_id: 'art-a', canary_artifact_id: null, canary_percent: 0, promotion_id: 'b' })]);
    expect(r.steps.filter((s) => s.promotion_id === 'b').map((s) => s.state)).toEqual(['StartCanary', 'RecordFailure']);
  });

  it('counts approvals to the threshold and only then rolls out; a denied request is never in flight', () => {
    const approval = (n: number, kid: string) => ev('promotion.approval_accepted', 'p', { approverId: kid, signature: 'c2ln', count: n, threshold: 2, expiresAt: ts(500), at: ts(n) }, 'desk');
    const events = [requested('d', { status: 'denied', threshold: null }), requested('p', { status: 'pending_multisig', threshold: 2 }), approval(1, 'k1'), ev('promotion.approval_refused', 'p', { approverId: 'k1', refusal: 'duplicate' }), approval(2, 'k2'), ev('promotion.approved', 'p', { approvers: ['k1', 'k2'], threshold: 2 })];
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
});
