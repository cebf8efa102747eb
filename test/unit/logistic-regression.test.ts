import {
  accuracy,
  binaryAuc,
  evaluate,
  fitStandardiser,
  logLoss,
  multiclassAuc,
  predictClass,
  sigmoid,
  standardise,
  trainLogisticRegression,
} from '../../lib/clients/training/logistic-regression.js';
import { createPrng } from '../../lib/clients/training/prng.js';

describe('createPrng', () => {
  // Pinned against the C reference implementations of splitmix32 + xoshiro128** (gcc, uint32_t):
  // a change here changes every model the built-in trainer has ever recorded.
  it('produces the pinned xoshiro128** stream for seeds 0, 42 and 2^32 - 1', () => {
    const first5 = (seed: number) => {
      const rng = createPrng(seed);
      return Array.from({ length: 5 }, () => rng.nextUint32());
    };
    expect(first5(0)).toEqual([1789933344, 44971166, 2521387044, 3848737593, 1138324114]);
    expect(first5(42)).toEqual([660444221, 3652823732, 77672526, 910233633, 2297337756]);
    expect(first5(2 ** 32 - 1)).toEqual([4104197751, 1825856343, 1152209388, 2427537429, 3685145430]);
  });

  it('derives next(), int(), normal() and shuffle() from that stream in a pinned way', () => {
    const rng = createPrng(42);
    expect([rng.next(), rng.next(), rng.next()]).toEqual([0.15377165307290852, 0.8504893006756902, 0.018084544222801924]);
    expect(rng.int(10)).toBe(3);
    expect(rng.normal()).toBe(0.9099838494916012);
    expect(rng.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])).toEqual([9, 8, 0, 1, 2, 3, 6, 7, 5, 4]);
  });

  it('repeats the same sequence for the same seed and diverges for another seed', () => {
    const draw = (seed: number) => {
      const rng = createPrng(seed);
      return Array.from({ length: 50 }, () => rng.next());
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it('keeps next() in [0, 1) and int(n) in [0, n)', () => {
    const rng = createPrng(1);
    const us = Array.from({ length: 10_000 }, () => rng.next());
    const ks = Array.from({ length: 10_000 }, () => rng.int(7));
    expect(us.every((u) => u >= 0 && u < 1)).toBe(true);
    expect(new Set(ks)).toEqual(new Set([0, 1, 2, 3, 4, 5, 6]));
  });

  it('draws normals with mean near 0 and variance near 1', () => {
    const rng = createPrng(3);
    const xs = Array.from({ length: 20_000 }, () => rng.normal());
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });

  it('shuffles into a permutation without modifying the input', () => {
    const input = Object.freeze(Array.from({ length: 100 }, (_, i) => i));
    const out = createPrng(5).shuffle(input);
    expect(out).not.toEqual(input);
    expect([...out].sort((a, b) => a - b)).toEqual(input);
  });

  it('rejects seeds that are not integers in [0, 2^32 - 1] and invalid int() bounds', () => {
    for (const seed of [-1, 1.5, 2 ** 32, Number.NaN]) expect(() => createPrng(seed)).toThrow(/seed must be an integer/);
    expect(() => createPrng(1).int(0)).toThrow(RangeError);
  });
});

describe('binaryAuc', () => {
  it('is 1 for perfect separation and 0 when the ranking is reversed', () => {
    expect(binaryAuc([0.1, 0.2, 0.8, 0.9], [false, false, true, true])).toBe(1);
    expect(binaryAuc([0.9, 0.8, 0.2, 0.1], [false, false, true, true])).toBe(0);
  });

  it('counts tied scores as half a correct pair', () => {
    expect(binaryAuc([0.5, 0.5, 0.5, 0.5], [true, false, true, false])).toBe(0.5);
    // pos {0.5, 0.8} vs neg {0.5, 0.2}: pairs 0.5|0.5 = ½, the other three = 1 → 3.5 / 4
    expect(binaryAuc([0.5, 0.5, 0.2, 0.8], [true, false, false, true])).toBe(0.875);
  });

  it('matches the hand-worked case: 3 of 4 positive/negative pairs ordered correctly', () => {
    expect(binaryAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75);
  });

  it('is null when one class is absent', () => {
    expect(binaryAuc([0.1, 0.9], [true, true])).toBeNull();
    expect(binaryAuc([], [])).toBeNull();
  });
});

describe('multiclassAuc', () => {
  it('macro-averages one-vs-rest AUCs (0.75, 1, 1 by hand)', () => {
    const proba = [
      [0.6, 0.3, 0.1],
      [0.2, 0.5, 0.3],
      [0.3, 0.6, 0.1],
      [0.1, 0.2, 0.7],
    ];
    expect(multiclassAuc([0, 0, 1, 2], proba, 3)).toBeCloseTo(2.75 / 3, 15);
  });

  it('uses P(class 1) for two classes', () => {
    expect(
      multiclassAuc(
        [0, 1, 1],
        [
          [0.9, 0.1],
          [0.6, 0.4],
          [0.2, 0.8],
        ],
        2,
      ),
    ).toBe(1);
  });
});

describe('logLoss and accuracy', () => {
  it('averages -log p(true class): (-ln 0.8 - ln 0.7) / 2', () => {
    expect(
      logLoss(
        [1, 0],
        [
          [0.2, 0.8],
          [0.7, 0.3],
        ],
      ),
    ).toBeCloseTo(0.2899092476, 10);
  });

  it('clips probabilities to 1e-15 so a confident miss stays finite', () => {
    expect(logLoss([1], [[1, 0]])).toBeCloseTo(-Math.log(1e-15), 10);
    expect(logLoss([0], [[1, 0]])).toBeCloseTo(-Math.log(1 - 1e-15), 20);
  });

  it('counts matching predictions, breaking probability ties toward the lower class', () => {
    expect(accuracy([0, 1, 1, 0], [0, 1, 0, 0])).toBe(0.75);
    expect(
      predictClass([
        [0.5, 0.5],
        [0.2, 0.8],
        [0.4, 0.4, 0.2],
      ]),
    ).toEqual([0, 1, 0]);
  });
});

describe('standardisation and training', () => {
  it('standardises with population std and maps constant columns to 0 with std 1', () => {
    const s = fitStandardiser([
      [1, 5],
      [3, 5],
      [5, 5],
    ]);
    expect(s.mean).toEqual([3, 5]);
    expect(s.std[0]).toBeCloseTo(Math.sqrt(8 / 3), 15);
    expect(s.std[1]).toBe(1);
    expect(standardise([[3, 5]], s)).toEqual([[0, 0]]);
  });

  it('evaluates sigmoid without overflow at extreme logits', () => {
    expect(sigmoid(1000)).toBe(1);
    expect(sigmoid(-1000)).toBe(0);
    expect(sigmoid(0)).toBe(0.5);
  });

  const x = [
    [-2, 0],
    [-1, 1],
    [-1.5, -1],
    [1, 0],
    [2, 1],
    [1.5, -1],
  ];
  const y = [0, 0, 0, 1, 1, 1];
  const opts = { classCount: 2, learningRate: 0.5, epochs: 100, l2: 0, batchSize: 0 };

  it('separates linearly separable data perfectly', () => {
    const model = trainLogisticRegression(x, y, { ...opts, rng: createPrng(1) });
    expect(model.weights).toHaveLength(1);
    expect(evaluate(model, x, y)).toMatchObject({ accuracy: 1, auc: 1 });
  });

  it('gives identical weights for the same seed, full batch and mini-batch', () => {
    for (const batchSize of [0, 2]) {
      const a = trainLogisticRegression(x, y, { ...opts, batchSize, rng: createPrng(9) });
      const b = trainLogisticRegression(x, y, { ...opts, batchSize, rng: createPrng(9) });
      expect(a).toEqual(b);
    }
  });

  it('trains one softmax row per class for three classes', () => {
    const x3 = [
      [0, 0],
      [0.2, 0.1],
      [3, 0],
      [3.1, 0.2],
      [0, 3],
      [0.1, 3.2],
    ];
    const y3 = [0, 0, 1, 1, 2, 2];
    const model = trainLogisticRegression(x3, y3, { ...opts, classCount: 3, rng: createPrng(2) });
    expect(model.weights).toHaveLength(3);
    expect(evaluate(model, x3, y3).accuracy).toBe(1);
  });

  it('reports progress about every 10% of epochs, ending with the last', () => {
    const epochs: number[] = [];
    trainLogisticRegression(x, y, { ...opts, epochs: 25, rng: createPrng(1), onProgress: (p) => epochs.push(p.epoch) });
    expect(epochs).toEqual([3, 6, 9, 12, 15, 18, 21, 24, 25]);
  });
});
