/**
 * The seeded simulation of issue 20 (counts, not time): a 100k-row reference profile, then 200
 * windows of 5,000 rows per scenario. With no drift at most 1 % of windows may be flagged; a
 * 0.3σ mean shift, a 1.5× scale change, a 20-point category share change and a 10-point
 * label-rate change must each be flagged in at least 95 % of windows, with the default options.
 */
import { createPrng, type Prng } from '../../lib/clients/training/prng.js';
import { detectDrift } from '../../lib/kernel/drift/decide.js';
import { profileColumns } from '../../lib/kernel/drift/reference.js';
import { windowAccumulator } from '../../lib/kernel/drift/window-build.js';
import type { DriftReport } from '../../lib/kernel/drift/report.js';

interface Scenario {
  meanShift: number;
  scale: number;
  /** share of category A (B gets the rest of A's default 50 %) */
  shareA: number;
  labelRate: number;
}
const NONE: Scenario = { meanShift: 0, scale: 1, shareA: 0.5, labelRate: 0.5 };

function category(rng: Prng, shareA: number): string {
  const u = rng.next();
  return u < shareA ? 'A' : u < 0.8 ? 'B' : 'C';
}

function row(rng: Prng, s: Scenario) {
  return {
    x1: rng.normal() + s.meanShift,
    x2: 5 + 2 * s.scale * rng.normal(),
    x3: Math.exp(0.5 * rng.normal()),
    cat: category(rng, s.shareA),
    label: rng.next() < s.labelRate ? 'yes' : 'no',
  };
}

function reference(rng: Prng, n: number) {
  const x1 = new Float64Array(n);
  const x2 = new Float64Array(n);
  const x3 = new Float64Array(n);
  const cat: string[] = [];
  const label: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = row(rng, NONE);
    [x1[i], x2[i], x3[i]] = [r.x1, r.x2, r.x3];
    cat.push(r.cat);
    label.push(r.label);
  }
  const profile = profileColumns(
    [
      { name: 'x1', kind: 'numeric', values: x1 },
      { name: 'x2', kind: 'numeric', values: x2 },
      { name: 'x3', kind: 'numeric', values: x3 },
      { name: 'cat', kind: 'categorical', values: cat },
    ],
    { column: 'label', values: label },
  );
  return { ...profile, topFeatures: ['x1', 'x2', 'cat'] };
}

const rng = createPrng(20261130);
const baseline = reference(rng, 100_000);

function windows(s: Scenario, count = 200, rows = 5000): DriftReport[] {
  const out: DriftReport[] = [];
  for (let w = 0; w < count; w++) {
    const acc = windowAccumulator(baseline);
    for (let i = 0; i < rows; i++) {
      const r = row(rng, s);
      acc.add({ features: r, label: r.label });
    }
    out.push(detectDrift(baseline, acc.profile()));
  }
  return out;
}
const share = (reports: DriftReport[], flagged: (r: DriftReport) => boolean): number => reports.filter(flagged).length / reports.length;
const feature = (r: DriftReport, name: string) => r.features.find((f) => f.feature === name)!;

describe('seeded drift simulation (200 windows × 5,000 rows, 100k-row reference)', () => {
  test('no drift: at most 1 % of windows flagged, by any detector', () => {
    const reports = windows(NONE);
    expect(share(reports, (r) => r.drift)).toBeLessThanOrEqual(0.01);
    expect(share(reports, (r) => r.features.some((f) => f.drift))).toBeLessThanOrEqual(0.01);
    expect(reports.every((r) => r.verdict !== 'insufficient-data')).toBe(true);
  });

  test.each([
    ['0.3σ mean shift', { ...NONE, meanShift: 0.3 }, (r: DriftReport) => feature(r, 'x1').drift],
    ['1.5× scale', { ...NONE, scale: 1.5 }, (r: DriftReport) => feature(r, 'x2').drift],
    ['20-point category share change', { ...NONE, shareA: 0.3 }, (r: DriftReport) => feature(r, 'cat').drift],
    ['10-point label-rate change', { ...NONE, labelRate: 0.6 }, (r: DriftReport) => r.label!.drift],
  ])('%s: flagged in at least 95 % of windows, and the verdict is drift', (_name, s, flagged) => {
    const reports = windows(s);
    expect(share(reports, flagged)).toBeGreaterThanOrEqual(0.95);
    expect(share(reports, (r) => r.verdict === 'drift')).toBeGreaterThanOrEqual(0.95);
  });
});
