import type { VariantMetrics } from '../../lib/kernel/canary-metrics.js';
import { MetricsRolloutJudge } from '../../lib/modules/rollout/canary.js';
import {
  DEFAULT_CANARY,
  describeStage,
  initialState,
  nextAfterShadowVerdict,
  stepUp,
  type CanaryConfig,
  type RolloutState,
} from '../../lib/modules/rollout/domain.js';
import type { Agreement } from '../../lib/platform/ports/canary-metrics.js';

const t0 = new Date('2026-11-30T10:00:00.000Z');
const later = (s: number) => new Date(t0.getTime() + s * 1000);
const base: CanaryConfig = { ...DEFAULT_CANARY.canary, percent: 10, steps: 3, windowSeconds: 300, maxInconclusive: 2, minRequests: 200 };
const shadow = (over: Partial<NonNullable<CanaryConfig['shadow']>> = {}): CanaryConfig => ({
  ...base,
  strategy: 'shadow',
  shadow: { percent: 50, windows: 2, minAgreement: 0.9, then: 'canary', ...over },
});
const blueGreen: CanaryConfig = { ...base, strategy: 'blue-green', blueGreen: { holdSeconds: 600, warmUpRequests: 20 } };

describe('rollout strategies, the decisions (lib/modules/rollout/domain.ts)', () => {
  it('starts each strategy in its phase: a shadow mirroring from now, a blue-green warming up, a canary as before', () => {
    expect(initialState(shadow(), t0)).toEqual({
      stage: -1,
      percent: 0,
      inconclusive: 0,
      windowSeconds: 300,
      stageStartedAt: t0.toISOString(),
      phase: 'shadow',
      shadowPassed: 0,
    });
    expect(initialState(blueGreen, t0)).toEqual({ stage: -1, percent: 0, inconclusive: 0, windowSeconds: 0, phase: 'warming' });
    expect(initialState({ ...base, strategy: 'canary' }, t0)).toEqual(initialState(base, t0));
    expect(initialState(base, t0)).toMatchObject({ stage: 0, percent: 10 });
  });

  it('discards the candidate on a failed shadow window, naming the check', () => {
    const s = initialState(shadow(), t0);
    expect(
      nextAfterShadowVerdict(s, 'fail', shadow(), later(300), { elapsedSeconds: 300, requestsPerArm: 900, failed: 'agreement' }),
    ).toEqual({
      next: 'rollback',
      state: { ...s, reason: 'shadow: agreement' },
    });
  });

  it('holds on inconclusive shadow windows as a canary does, then rolls back with insufficient-traffic', () => {
    const c = shadow();
    let s: RolloutState = initialState(c, t0);
    const slow = { elapsedSeconds: 300, requestsPerArm: 100 };
    const first = nextAfterShadowVerdict(s, 'inconclusive', c, later(300), slow);
    expect(first).toEqual({ next: 'wait', state: { ...s, inconclusive: 1, windowSeconds: 300 } });
    s = nextAfterShadowVerdict(first.state, 'inconclusive', c, later(600), slow).state;
    expect(nextAfterShadowVerdict(s, 'inconclusive', c, later(900), slow)).toMatchObject({
      next: 'rollback',
      state: { inconclusive: 3, reason: 'insufficient-traffic' },
    });
  });

  it('counts passing windows, mirrors a fresh window until enough passed, then steps up, or promotes when told to', () => {
    const c = shadow();
    const s = initialState(c, t0);
    const one = nextAfterShadowVerdict({ ...s, inconclusive: 1 }, 'pass', c, later(400));
    expect(one).toEqual({
      next: 'wait',
      state: { ...s, shadowPassed: 1, inconclusive: 0, windowSeconds: 300, stageStartedAt: later(400).toISOString() },
    });
    expect(nextAfterShadowVerdict(one.state, 'pass', c, later(800))).toEqual({ next: 'step-up', state: { ...one.state, shadowPassed: 2 } });
    expect(nextAfterShadowVerdict(one.state, 'pass', shadow({ then: 'promote' }), later(800)).next).toBe('promote');
    expect(
      nextAfterShadowVerdict(initialState({ ...shadow({ windows: 1 }), steps: 0 }, t0), 'pass', { ...shadow({ windows: 1 }), steps: 0 }, t0)
        .next,
    ).toBe('promote');
  });

  it('steps up from the shadow into the first canary stage, the phase ended and the canary judged from now', () => {
    const c = shadow();
    const passed = { ...initialState(c, t0), shadowPassed: 2 };
    expect(stepUp(passed, c, later(900))).toEqual({
      stage: 0,
      percent: 10,
      inconclusive: 0,
      windowSeconds: 300,
      stageStartedAt: later(900).toISOString(),
      canaryStartedAt: later(900).toISOString(),
      shadowPassed: 2,
    });
  });

  it('describes the phases in words', () => {
    const c = shadow();
    const s = initialState(c, t0);
    expect(describeStage(s, c, 'rolling_out', 'promote')).toBe('shadow window 1 of 2 at 50 % mirrored');
    expect(describeStage({ ...s, shadowPassed: 1, inconclusive: 1 }, c, 'rolling_out', 'promote')).toBe(
      'shadow window 2 of 2 at 50 % mirrored (1 inconclusive window, waiting 300 s)',
    );
    expect(describeStage({ ...s, reason: 'shadow: agreement' }, c, 'rolled_back', 'promote')).toBe('discarded after shadow: agreement');
    expect(describeStage({ ...s, shadowPassed: 2 }, c, 'succeeded', 'promote')).toBe('promoted to 100 % after 2 passing shadow windows');
    const warming = initialState(blueGreen, t0);
    expect(describeStage(warming, blueGreen, 'rolling_out', 'promote')).toBe('warming up green');
    expect(describeStage({ ...warming, reason: 'warm-up failed: request 3: timeout' }, blueGreen, 'rolled_back', 'promote')).toBe(
      'warm-up failed: request 3: timeout',
    );
    const hold: RolloutState = { ...warming, phase: 'hold', percent: 100, stageStartedAt: t0.toISOString(), windowSeconds: 600 };
    expect(describeStage(hold, blueGreen, 'rolling_out', 'promote')).toBe(
      `blue-green hold: green serves 100 %, blue routable until ${later(600).toISOString()}`,
    );
    expect(describeStage(hold, blueGreen, 'succeeded', 'promote')).toBe('switched; blue released');
    expect(describeStage({ ...hold, reason: 'quarantined: bad' }, blueGreen, 'rolled_back', 'promote')).toBe(
      'rolled back during the blue-green hold: blue serves again: quarantined: bad',
    );
    // a canary that came from a shadow is described as a canary
    expect(describeStage(stepUp({ ...s, shadowPassed: 2 }, c, t0), c, 'rolling_out', 'promote')).toBe('canary stage 1 of 3 at 10 %');
  });
});

describe('MetricsRolloutJudge, a shadow window (lib/modules/rollout/canary.ts)', () => {
  const latencies = (n: number) => Array.from({ length: n }, (_, i) => 20 + (i % 17));
  const window = {
    promotionId: 'p',
    modelName: 'churn',
    env: 'prod',
    stableArtifactId: 's1',
    canaryArtifactId: 'c1',
    from: later(0),
    to: later(300),
    canaryFrom: later(0),
    percent: 50,
    rollbackThreshold: 0.02,
    minRequests: 200,
    arm: 'shadow' as const,
    minAgreement: 0.9,
  };
  /** stable serves `stable` requests; a 50 % shadow mirrors half of them */
  function source(stable: number, mirrored: number, agreement?: Agreement, shadowErrors = 0) {
    const calls: string[] = [];
    return {
      calls,
      async window(key: string, variant: string, artifactId: string | null, from: Date, to: Date): Promise<VariantMetrics> {
        calls.push(`${key} ${variant} ${artifactId} ${(from.getTime() - t0.getTime()) / 1000}-${(to.getTime() - t0.getTime()) / 1000}`);
        const n = variant === 'stable' ? stable : mirrored;
        return { requests: n, errors: variant === 'shadow' ? shadowErrors : 0, latenciesMs: latencies(n) };
      },
      settledUntil: async (_k: string, now: Date) => now,
      agreement: async () => agreement ?? { compared: 0, agreed: 0 },
    };
  }

  it('judges the mirrored answers against stable over the same span, at the share of events a shadow of p % makes', async () => {
    const s = source(1000, 500, { compared: 500, agreed: 480 });
    const v = await new MetricsRolloutJudge(s).evaluate(window);
    expect(s.calls.sort()).toEqual(['churn/prod shadow c1 0-300', 'churn/prod stable s1 0-300']);
    expect(v).toMatchObject({
      verdict: 'pass',
      reason: 'pass',
      requests: { stable: 1000, canary: 500 },
      agreement: { compared: 500, agreed: 480, rate: 0.96 },
    });
    // 500 of 1,500 events are the shadow's: expected share 50/150, no sample-ratio trip
    expect(v.judgement!.metrics.guardrails.sampleRatio).toMatchObject({ expectedShare: expect.closeTo(1 / 3, 12), tripped: false });
    expect(v.detail).toMatch(/agreement: 480 of 500 mirrored answers equal the stable one \(96\.0 %, at least 90\.0 % needed\)/);
    // the judge's checks name the mirrored arm the shadow, not a canary
    expect(v.detail).toMatch(/errorRate ok: shadow 0\.00% vs stable 0\.00%/);
    expect(v.detail).not.toMatch(/\bcanary\b/);
  });

  it("fails with reason agreement when too few mirrored answers equal stable's", async () => {
    const v = await new MetricsRolloutJudge(source(1000, 500, { compared: 500, agreed: 400 })).evaluate(window);
    expect(v).toMatchObject({ verdict: 'fail', reason: 'agreement', agreement: { compared: 500, agreed: 400, rate: 0.8 } });
  });

  it('is at most inconclusive while fewer than minRequests answers were compared (or none were compared)', async () => {
    const few = await new MetricsRolloutJudge(source(1000, 500, { compared: 150, agreed: 10 })).evaluate(window);
    expect(few).toMatchObject({ verdict: 'inconclusive', reason: 'insufficient-traffic', agreement: { compared: 150, agreed: 10 } });
    const none = await new MetricsRolloutJudge(source(1000, 500)).evaluate(window);
    expect(none).toMatchObject({
      verdict: 'inconclusive',
      reason: 'insufficient-traffic',
      agreement: { compared: 0, agreed: 0, rate: null },
    });
    expect(none.detail).toMatch(/agreement: 0 of 0 mirrored answers equal the stable one$/);
  });

  it('names disagreement before a failure of the statistics (a slow shadow that also disagrees)', async () => {
    const s = source(1000, 500, { compared: 500, agreed: 400 });
    const slow = {
      ...s,
      window: async (...a: Parameters<typeof s.window>) => {
        const m = await s.window(...a);
        return a[1] === 'shadow' ? { ...m, latenciesMs: m.latenciesMs!.map((l) => l * 10) } : m;
      },
    };
    const v = await new MetricsRolloutJudge(slow).evaluate(window);
    expect(v).toMatchObject({ verdict: 'fail', reason: 'agreement' });
    // the statistics' own failure stays in the words
    expect(v.judgement!.verdict).toBe('fail');
    expect(v.detail).toMatch(/latency/i);
  });

  it("keeps the statistics' failure: a shadow erroring is discarded whatever its agreement", async () => {
    const v = await new MetricsRolloutJudge(source(1000, 500, { compared: 500, agreed: 500 }, 100)).evaluate(window);
    expect(v.verdict).toBe('fail');
    expect(v.reason).not.toBe('agreement');
  });
});
