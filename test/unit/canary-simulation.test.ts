/**
 * The judge's error rates by seeded simulation: counts, not time. Each scenario draws 500
 * windows of per-variant traffic from a fixed seed (lib/clients/training/prng.ts) and judges each
 * with the default configuration, so the rates below are exact for this code and repeat on
 * every machine. Latency is lognormal (median 40 ms, σ 0.5), as in the serving research.
 * Latencies are a sample per arm (as the judge's input allows: every one up to 2,000 where
 * latency decides, 500 elsewhere); the histogram path is run where latency decides. `SIM_REPORT=1` prints the measured rates.
 */
import { judgeCanary, toHistogram, type CanaryJudgement, type VariantMetrics } from '../../lib/kernel/canary-judge.js';
import { createPrng, type Prng } from '../../lib/clients/training/prng.js';

const WINDOWS = 500;
const LATENCY_SAMPLE = 2000;

interface Arm {
  requests: number;
  errorRate: number;
  latencyFactor: number;
  labelled: number;
  accuracy: number;
}

const { exp, floor, log, round } = Math; // bound once: global lookups are slow inside jest's vm context

/** Binomial(n, p) draw, exact, by geometric gaps between successes: one uniform per success. */
function bernoulliCount(rng: Prng, n: number, p: number): number {
  if (p > 0.5) return n - bernoulliCount(rng, n, 1 - p);
  if (p <= 0) return 0;
  const logQ = log(1 - p);
  let k = 0;
  for (let at = floor(log(1 - rng.next()) / logQ); at < n; at += 1 + floor(log(1 - rng.next()) / logQ)) k++;
  return k;
}

function draw(rng: Prng, a: Arm, latencySample: number): VariantMetrics {
  const latenciesMs = Array.from(
    { length: Math.min(a.requests, latencySample) },
    () => round(40 * a.latencyFactor * exp(0.5 * rng.normal()) * 1000) / 1000,
  );
  const correct = bernoulliCount(rng, a.labelled, a.accuracy);
  return {
    requests: a.requests,
    errors: bernoulliCount(rng, a.requests, a.errorRate),
    latenciesMs,
    ...(a.labelled > 0 ? { quality: { correct, labelled: a.labelled } } : {}),
  };
}

interface Scenario {
  seed: number;
  percent: number;
  total?: number;
  histograms?: boolean;
  latencySample?: number;
  stable: Omit<Arm, 'requests'> & { requests?: number };
  canary: Omit<Arm, 'requests'> & { requests?: number };
}

/** Judges WINDOWS windows; with `total`, the split is drawn per request (so the sample ratio varies as in serving). */
function simulate(s: Scenario): { raw: CanaryJudgement[]; histogram: CanaryJudgement[] } {
  const rng = createPrng(s.seed);
  const raw: CanaryJudgement[] = [],
    histogram: CanaryJudgement[] = [];
  for (let w = 0; w < WINDOWS; w++) {
    const canaryRequests = s.total !== undefined ? bernoulliCount(rng, s.total, s.percent / 100) : s.canary.requests!;
    const stableRequests = s.total !== undefined ? s.total - canaryRequests : s.stable.requests!;
    const labelsFor = (arm: Scenario['stable'], n: number) => (arm.labelled > 0 ? Math.min(n, arm.labelled) : 0);
    const stable = draw(
      rng,
      { ...s.stable, requests: stableRequests, labelled: labelsFor(s.stable, stableRequests) },
      s.latencySample ?? LATENCY_SAMPLE,
    );
    const canary = draw(
      rng,
      { ...s.canary, requests: canaryRequests, labelled: labelsFor(s.canary, canaryRequests) },
      s.latencySample ?? LATENCY_SAMPLE,
    );
    raw.push(judgeCanary({ stable, canary, canaryPercent: s.percent }));
    const bucketed = (v: VariantMetrics): VariantMetrics => {
      const { latenciesMs, ...rest } = v;
      return { ...rest, latencyHistogram: toHistogram(latenciesMs!) };
    };
    if (s.histograms) histogram.push(judgeCanary({ stable: bucketed(stable), canary: bucketed(canary), canaryPercent: s.percent }));
  }
  return { raw, histogram };
}

const rate = (js: CanaryJudgement[], caught: (j: CanaryJudgement) => boolean): number => js.filter(caught).length / js.length;
const agreement = (a: CanaryJudgement[], b: CanaryJudgement[]): number =>
  a.filter((j, i) => j.verdict === b[i]!.verdict && j.reason === b[i]!.reason).length / a.length;
const report = (name: string, values: Record<string, number>): void => {
  if (process.env.SIM_REPORT)
    process.stdout.write(
      `${name}: ${Object.entries(values)
        .map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`)
        .join(', ')}\n`,
    );
};

const base = { errorRate: 0.005, latencyFactor: 1, labelled: 0, accuracy: 0.9 };

describe('canary judge error rates (seeded simulation, 500 windows each)', () => {
  it('fails at most 2 % of windows of identical variants at 2,000 requests per arm (every test counted, split drawn per request)', () => {
    // 50 % canary, 4,000 requests per window: about 2,000 per arm, every one labelled.
    const { raw, histogram } = simulate({
      seed: 1001,
      percent: 50,
      total: 4000,
      histograms: true,
      stable: { ...base, labelled: 4000 },
      canary: { ...base, labelled: 4000 },
    });
    const falseFail = rate(raw, (j) => j.verdict === 'fail');
    const falseFailHist = rate(histogram, (j) => j.verdict === 'fail');
    report('identical', {
      'false fail (raw)': falseFail,
      'false fail (histogram)': falseFailHist,
      inconclusive: rate(raw, (j) => j.verdict === 'inconclusive'),
      'raw/histogram agreement': agreement(raw, histogram),
    });
    expect(raw.every((j) => j.metrics.quality?.judged)).toBe(true);
    expect(falseFail).toBeLessThanOrEqual(0.02);
    expect(falseFailHist).toBeLessThanOrEqual(0.02);
    expect(rate(raw, (j) => j.verdict === 'inconclusive')).toBe(0);
  });

  it('catches a canary 50 % slower in at least 95 % of windows with 200 canary requests (5 % canary), on raw samples and histograms alike', () => {
    const { raw, histogram } = simulate({
      seed: 1002,
      percent: 5,
      histograms: true,
      stable: { ...base, requests: 3800 },
      canary: { ...base, requests: 200, latencyFactor: 1.5 },
    });
    const caught = rate(raw, (j) => j.reason === 'latencyP95' || j.reason === 'latencyP99');
    const caughtHist = rate(histogram, (j) => j.reason === 'latencyP95' || j.reason === 'latencyP99');
    report('latency +50%', {
      'caught (raw)': caught,
      'caught (histogram)': caughtHist,
      'raw/histogram agreement': agreement(raw, histogram),
    });
    expect(caught).toBeGreaterThanOrEqual(0.95);
    expect(caughtHist).toBeGreaterThanOrEqual(0.95);
  });

  it('catches errors rising from 0.5 % to 2 % in at least 90 % of windows with 1,000 canary requests (5 % canary)', () => {
    const { raw } = simulate({
      seed: 1003,
      percent: 5,
      latencySample: 500,
      stable: { ...base, requests: 19_000 },
      canary: { ...base, requests: 1000, errorRate: 0.02 },
    });
    const caught = rate(raw, (j) => j.reason === 'errorRate');
    report('errors 0.5% -> 2%', { caught, fisher: rate(raw, (j) => j.metrics.errorRate.test === 'fisher') });
    expect(caught).toBeGreaterThanOrEqual(0.9);
  });

  it('catches a 5 % relative quality drop in at least 80 % of windows with 2,000 labelled canary predictions (20 % canary)', () => {
    const { raw } = simulate({
      seed: 1004,
      percent: 20,
      latencySample: 500,
      stable: { ...base, requests: 8000, labelled: 8000 },
      canary: { ...base, requests: 2000, labelled: 2000, accuracy: 0.9 * 0.95 },
    });
    const caught = rate(raw, (j) => j.reason === 'quality');
    report('quality -5% relative', { caught });
    expect(caught).toBeGreaterThanOrEqual(0.8);
  });
});
