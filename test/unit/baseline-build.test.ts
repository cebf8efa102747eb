import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBaseline, equalFrequencyEdges, quantileSorted, type BaselineInput } from '../../lib/kernel/baseline-build.js';
import {
  binIndex,
  positiveClassOf,
  type CategoricalFeatureProfile,
  type NumericFeatureProfile,
} from '../../lib/kernel/baseline-profile.js';
import { windowAccumulator } from '../../lib/kernel/drift/window-build.js';
import { canonicalJson } from '../../lib/kernel/canonical.js';
import { AegisError } from '../../lib/kernel/errors.js';

interface Case {
  name: string;
  bins: number;
  values: (number | null)[];
  expected: Omit<NumericFeatureProfile, 'kind'>;
}
const FIXTURES = JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/baseline-fixtures.json'), 'utf8')) as { cases: Case[] };

const close = (actual: number, expected: number, rel = 1e-12) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(expected)));

const numeric = (c: Case) =>
  buildBaseline({ columns: [{ name: c.name, kind: 'numeric', values: c.values }], bins: c.bins }).features[c.name] as NumericFeatureProfile;

const refusal = (fn: () => unknown): AegisError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AegisError);
    return e as AegisError;
  }
  throw new Error('expected a refusal');
};

describe('buildBaseline numeric features against numpy (test/fixtures/baseline-fixtures.json)', () => {
  it.each(FIXTURES.cases.map((c) => [c.name, c] as const))('%s: count, missing, mean, std, min, max, quantiles', (_, c) => {
    const f = numeric(c);
    expect(f.kind).toBe('numeric');
    expect([f.count, f.missing]).toEqual([c.expected.count, c.expected.missing]);
    for (const k of ['mean', 'std', 'min', 'max'] as const) close(f[k], c.expected[k]);
    expect(Object.keys(f.quantiles)).toEqual(Object.keys(c.expected.quantiles));
    for (const [k, v] of Object.entries(c.expected.quantiles)) close(f.quantiles[k]!, v);
  });

  it.each(FIXTURES.cases.map((c) => [c.name, c] as const))(
    '%s: equal-frequency edges (np.quantile type 7, ties dropped) and counts',
    (_, c) => {
      const f = numeric(c);
      expect(f.edges).toHaveLength(c.expected.edges.length);
      f.edges.forEach((e, i) => close(e, c.expected.edges[i]!));
      expect(f.counts).toEqual(c.expected.counts);
      expect(f.counts).toHaveLength(f.edges.length + 1);
      // nothing of the training data lies below its minimum; the upper tail [max, +∞) holds the maximum and its ties
      expect(f.counts[0]).toBe(0);
      expect(f.counts.at(-1)).toBe(c.values.filter((v) => v === f.max).length);
      expect(f.counts.reduce((a, b) => a + b, 0)).toBe(f.count);
    },
  );

  it('edges are strictly ascending; a constant column has one edge and std 0', () => {
    const f = numeric(FIXTURES.cases.find((c) => c.name === 'constant')!);
    expect(f).toMatchObject({ std: 0, mean: 4.25, min: 4.25, max: 4.25, edges: [4.25], counts: [0, 50] });
    const ties = numeric(FIXTURES.cases.find((c) => c.name === 'ties')!);
    for (let i = 1; i < ties.edges.length; i += 1) expect(ties.edges[i]!).toBeGreaterThan(ties.edges[i - 1]!);
    expect(equalFrequencyEdges([1, 1, 1, 2], 4)).toEqual([1, 1.25, 2]);
  });

  it('quantileSorted interpolates between closest ranks', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0)).toBe(1);
    expect(quantileSorted([1, 2, 3, 4], 1)).toBe(4);
    expect(quantileSorted([10], 0.3)).toBe(10);
  });
});

describe('buildBaseline categorical features, label, predictions, top features', () => {
  it('keeps the top categories by count (ties by name), pools the rest into __other__ and counts __missing__', () => {
    const values = ['b', 'a', 'c', 'b', 'a', 'd', '', null, 'e', 'b', 'Z'];
    const f = buildBaseline({ columns: [{ name: 'cat', kind: 'categorical', values }], topCategories: 3 }).features
      .cat as CategoricalFeatureProfile;
    // b 3, a 2, then ties of 1: Z < c < d < e in code-unit order
    expect(f).toEqual({ kind: 'categorical', count: 9, missing: 2, categories: ['b', 'a', 'Z'], counts: [3, 2, 1, 3, 2] });
  });

  it('keeps at most 50 categories by default', () => {
    const values = Array.from({ length: 120 }, (_, i) => `c${String(i % 60).padStart(2, '0')}`);
    const f = buildBaseline({ columns: [{ name: 'cat', kind: 'categorical', values }] }).features.cat as CategoricalFeatureProfile;
    expect(f.categories).toHaveLength(50);
    expect(f.categories.slice(0, 2)).toEqual(['c00', 'c01']);
    expect(f.counts.slice(-2)).toEqual([20, 0]);
    expect(f.counts.reduce((a, b) => a + b, 0)).toBe(120);
  });

  it('profiles the label, the holdout scores, the metrics and ranks features by max |weight|', () => {
    const p = buildBaseline({
      columns: [
        { name: 'x', kind: 'numeric', values: [1, 2, 3, 4] },
        { name: 'y', kind: 'numeric', values: [4, 3, 2, 1] },
        { name: 'w', kind: 'numeric', values: [0, 0, 1, 1] },
      ],
      label: { column: 'label', values: ['1', '0', '1', ''] },
      predictions: { score: 'p(1)', values: [0.1, 0.9, 0.4] },
      holdoutMetrics: { logLoss: 0.5, accuracy: 0.75 },
      featureWeights: { x: [0.5, -2], y: [1, 1], w: [-2, 0] },
    });
    expect(p.label).toEqual({ column: 'label', categories: ['0', '1', '__missing__'], counts: [1, 2, 1] });
    const edges = equalFrequencyEdges([0.1, 0.4, 0.9]);
    expect(edges).toHaveLength(21);
    // 0.4 is the median, the 11th edge: it opens the 11th inner bin
    const counts = new Array<number>(22).fill(0);
    [counts[1], counts[11], counts[21]] = [1, 1, 1]; // 0.9, the maximum, is in the upper tail [max, +∞)
    expect(p.predictions).toEqual({ score: 'p(1)', edges, counts });
    expect(p.holdoutMetrics).toEqual({ accuracy: 0.75, logLoss: 0.5 });
    expect(p.topFeatures).toEqual(['w', 'x', 'y']);
    expect(p).toMatchObject({ format: 'aegis.baseline/v2', rows: 4, featureOrder: ['x', 'y', 'w'] });
  });

  it('counts by binIndex: half-open bins, the training maximum in the upper tail', () => {
    const f = buildBaseline({ columns: [{ name: 'x', kind: 'numeric', values: [0, 1, 2, 3] }], bins: 3 }).features
      .x as NumericFeatureProfile;
    expect(f.edges).toEqual([0, 1, 2, 3]);
    expect(f.counts).toEqual([0, 1, 1, 1, 1]);
    expect([-1, 0, 0.5, 1, 2.9, 3, 4].map((v) => binIndex(f.edges, v))).toEqual([0, 1, 1, 2, 3, 4, 4]);
  });

  it('keeps each value of a 0/1 feature in a bin of its own, so a change in the share of ones shows', () => {
    const values = [...new Array<number>(300).fill(0), ...new Array<number>(100).fill(1)];
    const f = buildBaseline({ columns: [{ name: 'flag', kind: 'numeric', values }], bins: 20 }).features.flag as NumericFeatureProfile;
    expect([f.edges[0], f.edges.at(-1)]).toEqual([0, 1]);
    const [zeros, ones] = [binIndex(f.edges, 0), binIndex(f.edges, 1)];
    expect(zeros).not.toBe(ones);
    expect([f.counts[zeros], f.counts[ones]]).toEqual([300, 100]);
  });

  it('makes two bins of a constant feature: below it, and at or above it', () => {
    const f = buildBaseline({ columns: [{ name: 'c', kind: 'numeric', values: [5, 5, 5] }], bins: 20 }).features.c as NumericFeatureProfile;
    expect(f.edges).toEqual([5]);
    expect(f.counts).toEqual([0, 3]);
    expect([4.9, 5, 6].map((v) => binIndex(f.edges, v))).toEqual([0, 1, 1]);
  });
});

describe('buildBaseline determinism and refusals', () => {
  const input = (): BaselineInput => {
    let s = 42;
    const rand = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const xs = Array.from({ length: 2000 }, () => (rand() < 0.05 ? null : rand() * 100 - 50));
    const cats = Array.from({ length: 2000 }, () => (rand() < 0.1 ? '' : `k${Math.floor(rand() * 70)}`));
    return {
      columns: [
        { name: 'x', kind: 'numeric', values: xs },
        { name: 'k', kind: 'categorical', values: cats },
      ],
      label: { column: 'y', values: cats.map((c) => (c.length % 2 ? 'odd' : 'even')) },
    };
  };

  it('gives the same canonical JSON bytes for the same inputs', () => {
    expect(canonicalJson(buildBaseline(input()))).toBe(canonicalJson(buildBaseline(input())));
  });

  it('refuses NaN and ±Infinity naming the column and row', () => {
    const nan = refusal(() => buildBaseline({ columns: [{ name: 'age', kind: 'numeric', values: [1, NaN] }] }));
    expect(nan.message).toMatch(/column "age", row 2: NaN is not a finite number/);
    expect(nan.field).toBe('age');
    const inf = refusal(() => buildBaseline({ columns: [{ name: 'x', kind: 'numeric', values: [Infinity] }] }));
    expect(inf.message).toMatch(/row 1: Infinity/);
    expect(refusal(() => buildBaseline({ columns: [], predictions: { score: 's', values: [-Infinity] } })).message).toMatch(
      /a baseline needs at least one row/,
    );
    const metric = refusal(() => buildBaseline({ columns: [{ name: 'x', kind: 'numeric', values: [1] }], holdoutMetrics: { auc: NaN } }));
    expect(metric.field).toBe('holdoutMetrics.auc');
  });

  it('refuses ragged and duplicate columns, an empty numeric column and weights of unknown features', () => {
    expect(
      refusal(() =>
        buildBaseline({
          columns: [
            { name: 'a', kind: 'numeric', values: [1, 2] },
            { name: 'b', kind: 'numeric', values: [1] },
          ],
        }),
      ).message,
    ).toMatch(/column "b" has 1 values, not 2/);
    expect(
      refusal(() =>
        buildBaseline({
          columns: [
            { name: 'a', kind: 'numeric', values: [1] },
            { name: 'a', kind: 'categorical', values: ['x'] },
          ],
        }),
      ).message,
    ).toMatch(/given twice/);
    expect(refusal(() => buildBaseline({ columns: [{ name: 'a', kind: 'numeric', values: [null, null] }] })).message).toMatch(
      /column "a" has no values/,
    );
    const w = refusal(() => buildBaseline({ columns: [{ name: 'a', kind: 'numeric', values: [1] }], featureWeights: { b: [1] } }));
    expect(w.field).toBe('featureWeights.b');
  });
});

describe('the positive class of a baseline score', () => {
  it("reads p(<class>) as that class, max(p) as no one class's, any other name as the class itself", () => {
    expect(positiveClassOf('p(1)')).toBe('1');
    expect(positiveClassOf('p(churned)')).toBe('churned');
    expect(positiveClassOf('max(p)')).toBeUndefined();
    expect(positiveClassOf('yes')).toBe('yes');
    expect(positiveClassOf(undefined)).toBeUndefined();
  });

  it("scores served windows against the built-in trainer's p(1): log loss and the score split by truth are counted", () => {
    const baseline = buildBaseline({
      columns: [{ name: 'x', kind: 'numeric', values: [1, 2, 3, 4] }],
      label: { column: 'label', values: ['0', '1', '0', '1'] },
      predictions: { score: 'p(1)', values: [0.2, 0.8, 0.3, 0.7] },
    });
    const acc = windowAccumulator(baseline);
    acc.add({ features: { x: 1 }, label: '1', predicted: '1', score: 0.9 });
    acc.add({ features: { x: 2 }, label: '0', predicted: '0', score: 0.2 });
    const perf = acc.profile().performance!;
    expect(perf).toMatchObject({ labelled: 2, correct: 2, scored: 2 });
    expect(perf.logLossSum).toBeCloseTo(-Math.log(0.9) - Math.log(0.8), 12);
  });
});
