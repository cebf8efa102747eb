import {
  DEFAULT_CANARY,
  describeStage,
  initialState,
  nextAfterVerdict,
  stagePercents,
  stepUp,
  stretchedWait,
  type CanaryConfig,
} from '../../lib/modules/rollout/domain.js';

const canary: CanaryConfig = { ...DEFAULT_CANARY.canary, percent: 5, steps: 3, windowSeconds: 300, maxInconclusive: 3, minRequests: 200 };
const t0 = new Date('2026-11-22T10:00:00.000Z');
const later = (s: number) => new Date(t0.getTime() + s * 1000);

describe('rollout decisions (lib/modules/rollout/domain.ts)', () => {
  it('starts the canary at its first stage, remembering when the stage and the canary began', () => {
    expect(stagePercents(canary)).toEqual([5, 37, 68]);
    expect(initialState(canary, t0)).toEqual({
      stage: 0,
      percent: 5,
      inconclusive: 0,
      windowSeconds: 300,
      stageStartedAt: t0.toISOString(),
      canaryStartedAt: t0.toISOString(),
    });
    expect(initialState({ ...canary, steps: 0 }, t0)).toEqual({ stage: -1, percent: 100, inconclusive: 0, windowSeconds: 0 });
  });

  it('stretches the wait after an inconclusive window to reach minRequests at the traffic seen, within one to four windows', () => {
    // 50 canary requests in 300 s: 200 need 900 s more
    expect(stretchedWait(canary, { elapsedSeconds: 300, requestsPerArm: 50 })).toBe(900);
    expect(stretchedWait(canary, { elapsedSeconds: 300, requestsPerArm: 150 })).toBe(300); // 100 s more, but at least a window
    expect(stretchedWait(canary, { elapsedSeconds: 300, requestsPerArm: 10 })).toBe(1200); // 5,700 s more: capped at four windows
    expect(stretchedWait(canary, { elapsedSeconds: 300, requestsPerArm: 0 })).toBe(1200);
  });

  it('holds the stage and percent on inconclusive, and rolls back with insufficient-traffic once maxInconclusive is spent', () => {
    let state = initialState(canary, t0);
    for (let i = 1; i <= 3; i++) {
      const r = nextAfterVerdict(state, 'inconclusive', canary, { elapsedSeconds: 300 * i, requestsPerArm: 40 * i });
      expect(r.next).toBe('wait');
      expect(r.state).toMatchObject({ stage: 0, percent: 5, inconclusive: i, stageStartedAt: t0.toISOString() });
      state = r.state;
    }
    expect(state.windowSeconds).toBe(600); // 120 requests in 900 s: 200 need 600 s more
    const last = nextAfterVerdict(state, 'inconclusive', canary, { elapsedSeconds: 2400, requestsPerArm: 150 });
    expect(last).toEqual({ next: 'rollback', state: expect.objectContaining({ inconclusive: 4, reason: 'insufficient-traffic' }) });
  });

  it('rolls back on a fail naming the check, moves on only on a pass, and never promotes on inconclusive at the last stage', () => {
    const s0 = initialState(canary, t0);
    expect(nextAfterVerdict(s0, 'fail', canary, { elapsedSeconds: 300, requestsPerArm: 400, failed: 'latencyP95' })).toEqual({
      next: 'rollback',
      state: { ...s0, reason: 'latencyP95' },
    });
    expect(nextAfterVerdict(s0, 'pass', canary).next).toBe('step-up');
    const s2 = stepUp(stepUp(s0, canary, later(300)), canary, later(600));
    expect(s2).toMatchObject({
      stage: 2,
      percent: 68,
      inconclusive: 0,
      windowSeconds: 300,
      stageStartedAt: later(600).toISOString(),
      canaryStartedAt: t0.toISOString(),
    });
    expect(nextAfterVerdict(s2, 'pass', canary).next).toBe('promote');
    expect(nextAfterVerdict(s2, 'inconclusive', canary, { elapsedSeconds: 300, requestsPerArm: 100 }).next).toBe('wait');
  });

  it('names the stage in words, never -1', () => {
    const s1 = { ...stepUp(initialState(canary, t0), canary, later(300)), inconclusive: 1, windowSeconds: 600 };
    expect(describeStage(s1, canary, 'rolling_out', 'promote')).toBe('canary stage 2 of 3 at 37 % (1 inconclusive window, waiting 600 s)');
    expect(describeStage({ ...s1, percent: 0, reason: 'insufficient-traffic' }, canary, 'rolled_back', 'promote')).toBe(
      'rolled back at canary stage 2 of 3 (37 %): insufficient-traffic',
    );
    expect(describeStage({ ...s1, percent: 100 }, canary, 'succeeded', 'promote')).toBe('promoted to 100 % after 3 canary stages');
    expect(
      describeStage({ stage: -1, percent: 100, inconclusive: 0, windowSeconds: 0 }, { ...canary, steps: 0 }, 'succeeded', 'promote'),
    ).toBe('applied at 100 % without a canary (steps 0)');
    expect(describeStage(null, canary, 'pending_multisig', 'promote')).toBe('not started: waiting for approvals');
    expect(
      describeStage({ stage: -1, percent: 100, inconclusive: 0, windowSeconds: 0 }, DEFAULT_CANARY.staging, 'succeeded', 'rollback'),
    ).toBe('rolled back to this artifact (route set)');
  });
});
