import { BASELINE_FORMAT_V2, readBaseline, type BaselineProfile } from '../../lib/kernel/baseline-profile.js';
import { detectDrift } from '../../lib/kernel/drift/decide.js';
import { resolveOptions, DRIFT_DEFAULTS } from '../../lib/kernel/drift/options.js';
import { binnedAuc, performanceDrift } from '../../lib/kernel/drift/performance.js';
import { categoricalProfile, numericProfile, profileColumns, quantileSorted } from '../../lib/kernel/drift/reference.js';
import { mergeWindows, windowAccumulator } from '../../lib/kernel/drift/window-build.js';
import { MAX_UNSEEN, type WindowRow } from '../../lib/kernel/drift/window.js';
import { binPositions } from '../../lib/kernel/drift/numeric.js';

const baseline = (): BaselineProfile => ({
  format: BASELINE_FORMAT_V2,
  rows: 1000,
  featureOrder: ['x', 'c'],
  features: {
    x: {
      kind: 'numeric',
      count: 1000,
      missing: 0,
      mean: 1.5,
      std: 1,
      min: 0,
      max: 3,
      quantiles: {},
      edges: [0, 1, 2, 3],
      counts: [0, 333, 333, 334, 0],
    },
    c: { kind: 'categorical', count: 1000, missing: 0, categories: ['a', 'b'], counts: [500, 500, 0, 0] },
  },
  label: { column: 'y', categories: ['no', 'yes'], counts: [500, 500] },
  predictions: { score: 'yes', edges: [0, 0.5, 1], counts: [0, 500, 500, 0] },
  holdoutMetrics: { accuracy: 0.9, rows: 2000, auc: 0.95 },
  topFeatures: ['c'],
  methods: {},
});

const rows = (n: number, make: (i: number) => WindowRow): WindowRow[] => Array.from({ length: n }, (_, i) => make(i));
const profile = (b: BaselineProfile, rs: WindowRow[]) => {
  const acc = windowAccumulator(b);
  for (const r of rs) acc.add(r);
  return acc.profile();
};
const steady = (i: number): WindowRow => ({
  features: { x: (i % 3) + 0.5, c: i % 2 ? 'a' : 'b' },
  label: i % 2 ? 'yes' : 'no',
  predicted: i % 2 ? 'yes' : 'no',
  score: i % 2 ? 0.8 : 0.2,
});

describe('window profiles', () => {
  test('count into the baseline bins in one pass: tails, missing, type mismatches, unseen categories by name', () => {
    const w = profile(baseline(), [
      { features: { x: -5, c: 'a' } },
      { features: { x: 99, c: 'zz' } },
      { features: { x: '', c: '' } },
      { features: { x: 'abc', c: null } },
      { features: { x: '2.5', c: 'zz' } },
    ]);
    expect(w.rows).toBe(5);
    expect(w.features.x).toEqual({ kind: 'numeric', counts: [1, 0, 0, 1, 1], missing: 1, invalid: 1 });
    expect(w.features.c).toEqual({ kind: 'categorical', counts: [1, 0, 2, 2], unseen: { zz: 2 } });
  });

  test('merge by addition: shards in any order give the whole window', () => {
    const all = rows(3000, steady);
    const whole = profile(baseline(), all);
    const a = profile(baseline(), all.slice(0, 1234));
    const b = profile(baseline(), all.slice(1234));
    // counts add exactly; the log-loss sum only up to floating-point rounding
    const exact = (w: ReturnType<typeof profile>) => ({ ...w, performance: { ...w.performance!, logLossSum: 0 } });
    for (const m of [mergeWindows(a, b), mergeWindows(b, a)]) {
      expect(exact(m)).toEqual(exact(whole));
      expect(m.performance!.logLossSum).toBeCloseTo(whole.performance!.logLossSum, 9);
    }
  });

  test('unseen names are capped, the rest counted under …', () => {
    const w = profile(
      baseline(),
      rows(MAX_UNSEEN + 5, (i) => ({ features: { x: 1, c: `new${i}` } })),
    );
    const unseen = (w.features.c as { unseen: Record<string, number> }).unseen;
    expect(Object.keys(unseen)).toHaveLength(MAX_UNSEEN + 1);
    expect(unseen['…']).toBe(5);
  });
});

describe('detectDrift', () => {
  test('a window like the baseline: no drift; performance checked against holdout and fine', () => {
    const r = detectDrift(baseline(), profile(baseline(), rows(3000, steady)));
    expect(r.verdict).toBe('no-drift');
    expect(r.features.map((f) => f.drift)).toEqual([false, false]);
    expect(r.performance).toMatchObject({ status: 'ok', accuracy: 1, regression: false, auc: 1 });
    expect(r.predictions!.drift).toBe(false);
  });

  test('a top feature drifting is dataset drift (half the features too); unseen categories are reported with their share', () => {
    const r = detectDrift(
      baseline(),
      profile(
        baseline(),
        rows(2000, (i) => ({ ...steady(i), features: { x: (i % 3) + 0.5, c: i % 4 ? 'new' : 'a' } })),
      ),
    );
    const c = r.features.find((f) => f.feature === 'c')!;
    expect(c.kind === 'categorical' && c.unseen).toEqual([{ category: 'new', count: 1500, share: 0.75 }]);
    expect(r.datasetReasons).toEqual(['share', 'top-feature:c']);
    expect(
      detectDrift(
        baseline(),
        profile(
          baseline(),
          rows(2000, (i) => ({ ...steady(i), features: { x: (i % 3) + 0.5, c: 'new' } })),
        ),
        { driftShare: 1 },
      ).datasetReasons,
    ).toEqual(['top-feature:c']);
    expect(r.verdict).toBe('drift');
  });

  test('fewer rows than minRows: insufficient-data, statistics reported, nothing drifts', () => {
    const r = detectDrift(
      baseline(),
      profile(
        baseline(),
        rows(500, () => ({ features: { x: 100, c: 'zz' } })),
      ),
    );
    expect(r.verdict).toBe('insufficient-data');
    expect(r.features[0]!.js).toBeGreaterThan(0.5);
    expect(r.drift).toBe(false);
  });

  test('options override per model and per feature', () => {
    const w = profile(
      baseline(),
      rows(2000, (i) => ({ ...steady(i), features: { x: 100, c: i % 2 ? 'a' : 'b' } })),
    );
    expect(detectDrift(baseline(), w).driftedFeatures).toEqual(['x']);
    expect(detectDrift(baseline(), w, { features: { x: { threshold: 1.01 } } }).driftedFeatures).toEqual([]);
    expect(detectDrift(baseline(), w, { features: { x: { ignore: true } } }).datasetDrift).toBe(false);
    expect(() => resolveOptions({ minRows: -1 })).toThrow(/minRows/);
    expect(DRIFT_DEFAULTS).toMatchObject({ minRows: 1000, numericThreshold: 0.1, driftShare: 0.5, topFeatureCount: 3, tolerance: 0.02 });
  });

  test('a missing-rate change drifts a feature', () => {
    const r = detectDrift(
      baseline(),
      profile(
        baseline(),
        rows(2000, (i) => ({ ...steady(i), features: { x: i % 4 ? (i % 3) + 0.5 : '', c: i % 2 ? 'a' : 'b' } })),
      ),
    );
    expect(r.features[0]).toMatchObject({ drift: true, reasons: ['missing-rate'] });
  });
});

describe('performance regression (the canary judge rule)', () => {
  const counts = (labelled: number, correct: number) => ({
    labelled,
    correct,
    logLossSum: 0,
    scored: 0,
    positiveScores: [],
    negativeScores: [],
  });
  const run = (labelled: number, correct: number, holdout: Record<string, number> | undefined = { accuracy: 0.9, rows: 2000 }) =>
    performanceDrift({ counts: counts(labelled, correct), holdout, minLabelled: 200, tolerance: 0.02, alpha: 0.01 });

  test('below holdout by more than the tolerance and significant: regression', () => {
    expect(run(2000, 1700)).toMatchObject({ status: 'ok', accuracy: 0.85, regression: true });
  });
  test('significant but within tolerance, or beyond tolerance but not significant: no regression', () => {
    expect(run(100_000, 89_000).regression).toBe(false); // 1 point below, p ≈ 0
    expect(run(250, 215).regression).toBe(false); // 4 points below, p ≈ 0.02 > 0.01
  });
  test('without labels: reported, never triggering; too few labelled rows: insufficient; unknown holdout size: one-sample test', () => {
    expect(
      performanceDrift({ counts: undefined, holdout: { accuracy: 0.9 }, minLabelled: 200, tolerance: 0.02, alpha: 0.01 }),
    ).toMatchObject({ status: 'no-labels', regression: false });
    expect(run(150, 10)).toMatchObject({ status: 'insufficient-labels', regression: false });
    expect(run(2000, 1700, { accuracy: 0.9 })).toMatchObject({ regression: true });
    expect(run(2000, 1700, {})).toMatchObject({ status: 'no-holdout', regression: false });
  });
  test('binned AUC: separated classes 1, identical 0.5', () => {
    expect(binnedAuc([0, 0, 5], [5, 0, 0])).toBe(1);
    expect(binnedAuc([1, 1], [1, 1])).toBe(0.5);
  });
});

describe('reference profiles and readBaseline', () => {
  test('equal-frequency edges (type-7 quantiles, ties deduplicated), half-open bins: the maximum in the upper tail', () => {
    const p = numericProfile(
      Float64Array.from({ length: 101 }, (_, i) => i),
      4,
    );
    expect(p.edges).toEqual([0, 25, 50, 75, 100]);
    expect(p.counts).toEqual([0, 25, 25, 25, 25, 1]);
    expect(numericProfile(Float64Array.from([1, 1, 1, NaN])).edges).toEqual([1]);
    expect(quantileSorted(Float64Array.from([1, 2, 3, 4]), 0.5)).toBe(2.5);
    expect(categoricalProfile(['b', 'a', 'b', null, 'c'], 2)).toMatchObject({ categories: ['b', 'a'], counts: [2, 1, 1, 1] });
    expect(binPositions([0, 1, 3])).toEqual([-0.5, 0.5, 2, 4]);
  });

  test('reads v2 as written and a built profile round-trips', () => {
    const b = profileColumns([{ name: 'x', kind: 'numeric', values: Float64Array.from([1, 2, 3, 4]) }], {
      column: 'y',
      values: ['a', 'b', 'a', null],
    });
    expect(readBaseline(JSON.parse(JSON.stringify(b)))).toEqual(b);
    expect(readBaseline(baseline())).toEqual(baseline());
  });

  test.each([
    ['format', { format: 'aegis.baseline/v9' }, /^baseline format must be/],
    [
      'a non-finite edge',
      { features: { ...baseline().features, x: { ...baseline().features.x, edges: [0, null, 2, 3] } } },
      /features\.x\.edges\.1/,
    ],
    [
      'counts not edges + 1',
      { features: { ...baseline().features, x: { ...baseline().features.x, counts: [1, 2] } } },
      /features\.x\.counts must have edges\.length \+ 1/,
    ],
    [
      'descending edges',
      { features: { ...baseline().features, x: { ...baseline().features.x, edges: [0, 2, 1, 3] } } },
      /features\.x\.edges must be strictly ascending/,
    ],
    [
      'categories without __other__/__missing__',
      { features: { ...baseline().features, c: { ...baseline().features.c, counts: [1, 2] } } },
      /features\.c\.counts/,
    ],
    ['an unknown field', { extra: 1 }, /\(root\)|extra/],
    ['featureOrder naming nothing', { featureOrder: ['x', 'c', 'z'] }, /featureOrder/],
    ['label counts', { label: { column: 'y', categories: ['a'], counts: [1, 2] } }, /label\.counts/],
  ])('refuses %s, naming the field', (_name, patch, message) => {
    expect(() => readBaseline({ ...baseline(), ...patch })).toThrow(message);
  });
});
