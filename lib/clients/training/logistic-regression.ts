/**
 * Logistic regression (sigmoid for two classes, softmax for more) with L2, trained by
 * gradient descent, plus the evaluation metrics the built-in trainer reports.
 *
 * Pure and deterministic: no I/O, no `Math.random`; every sum runs in row order and every
 * random draw comes from the caller's {@link Prng}, so the same inputs give the same bits.
 */
import type { Prng } from './prng.js';
import { predictClass, predictProba, rowProba, type LogisticModel, type Matrix, type Standardiser } from '../../kernel/logistic.js';

// The predict math lives in the kernel, shared with the serving runtime (`adapters/model-runtime/logistic.ts`).
export {
  predictClass,
  predictProba,
  sigmoid,
  standardise,
  type LogisticModel,
  type Matrix,
  type Standardiser,
} from '../../kernel/logistic.js';

/** Training settings; {@link TrainOptions.batchSize} 0 means full batch. */
export interface TrainOptions {
  readonly classCount: number;
  readonly learningRate: number;
  readonly epochs: number;
  readonly l2: number;
  readonly batchSize: number;
  /** Source for the initial weights and the per-epoch mini-batch order. */
  readonly rng: Prng;
  /** Called about every 10% of epochs (and after the last) with the mean training log loss. */
  readonly onProgress?: (p: { epoch: number; epochs: number; loss: number }) => void;
}

/** Holdout metrics; `auc` is null when no class has both positives and negatives. */
export interface Evaluation {
  readonly accuracy: number;
  readonly logLoss: number;
  readonly auc: number | null;
}

const EPS = 1e-15;
const INIT_SCALE = 0.01;

/** Fits mean/population std per column; a constant column gets std 1 so standardising never divides by 0. */
export function fitStandardiser(x: Matrix): Standardiser {
  if (x.length === 0) throw new RangeError('cannot standardise zero rows');
  const d = (x[0] as readonly number[]).length;
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (const row of x) for (let j = 0; j < d; j += 1) mean[j] = (mean[j] as number) + (row[j] as number);
  for (let j = 0; j < d; j += 1) mean[j] = (mean[j] as number) / x.length;
  for (const row of x) {
    for (let j = 0; j < d; j += 1) {
      const dev = (row[j] as number) - (mean[j] as number);
      std[j] = (std[j] as number) + dev * dev; // a product, not `** 2` (Math.pow is not correctly rounded)
    }
  }
  for (let j = 0; j < d; j += 1) {
    // Judge "constant" on raw values: sum/n can round off the value, leaving a tiny bogus spread.
    const first = (x[0] as readonly number[])[j] as number;
    if (x.every((row) => row[j] === first)) [mean[j], std[j]] = [first, 1];
    else std[j] = Math.sqrt((std[j] as number) / x.length);
  }
  return { mean, std };
}

/**
 * Trains by (mini-batch) gradient descent on standardised features.
 * Loss: mean cross-entropy + (l2 / 2)·‖W‖² (the bias is not penalised).
 *
 * @example
 * const model = trainLogisticRegression(xs, ys, { classCount: 2, learningRate: 0.1, epochs: 200, l2: 1e-4, batchSize: 0, rng: createPrng(7) });
 */
export function trainLogisticRegression(x: Matrix, y: readonly number[], opts: TrainOptions): LogisticModel {
  const n = x.length;
  if (n === 0 || y.length !== n) throw new RangeError('need at least one row and one label per row');
  if (opts.classCount < 2) throw new RangeError('need at least two classes');
  const d = (x[0] as readonly number[]).length;
  const outputs = opts.classCount === 2 ? 1 : opts.classCount;
  const weights = Array.from({ length: outputs }, () => Array.from({ length: d }, () => INIT_SCALE * opts.rng.normal()));
  const bias = new Array<number>(outputs).fill(0);
  const model: LogisticModel = { classCount: opts.classCount, weights, bias };
  const batch = opts.batchSize > 0 ? Math.min(opts.batchSize, n) : n;
  const every = Math.max(1, Math.ceil(opts.epochs / 10));
  const rows = Array.from({ length: n }, (_, i) => i);

  for (let epoch = 1; epoch <= opts.epochs; epoch += 1) {
    // Full batch keeps file order; mini-batches draw a fresh seeded order per epoch.
    const order = batch === n ? rows : opts.rng.shuffle(rows);
    for (let start = 0; start < n; start += batch) {
      const idx = order.slice(start, start + batch);
      const gw = Array.from({ length: outputs }, () => new Array<number>(d).fill(0));
      const gb = new Array<number>(outputs).fill(0);
      for (const i of idx) {
        const row = x[i] as readonly number[];
        const p = rowProba(model, row);
        for (let k = 0; k < outputs; k += 1) {
          // Binary uses the single "positive" output; softmax uses one output per class.
          const cls = outputs === 1 ? 1 : k;
          const err = (p[cls] as number) - (y[i] === cls ? 1 : 0);
          const g = gw[k] as number[];
          for (let j = 0; j < d; j += 1) g[j] = (g[j] as number) + err * (row[j] as number);
          gb[k] = (gb[k] as number) + err;
        }
      }
      for (let k = 0; k < outputs; k += 1) {
        const w = weights[k] as number[];
        const g = gw[k] as number[];
        for (let j = 0; j < d; j += 1) {
          w[j] = (w[j] as number) - opts.learningRate * ((g[j] as number) / idx.length + opts.l2 * (w[j] as number));
        }
        bias[k] = (bias[k] as number) - opts.learningRate * ((gb[k] as number) / idx.length);
      }
    }
    if (opts.onProgress && (epoch % every === 0 || epoch === opts.epochs)) {
      opts.onProgress({ epoch, epochs: opts.epochs, loss: logLoss(y, predictProba(model, x)) });
    }
  }
  return model;
}

/** Fraction of rows whose predicted class equals the true class. */
export function accuracy(yTrue: readonly number[], yPred: readonly number[]): number {
  if (yTrue.length === 0 || yTrue.length !== yPred.length) throw new RangeError('accuracy needs equal, non-empty inputs');
  let hits = 0;
  for (let i = 0; i < yTrue.length; i += 1) if (yTrue[i] === yPred[i]) hits += 1;
  return hits / yTrue.length;
}

/** Mean negative log probability of the true class, clipped to [1e-15, 1 - 1e-15] so it stays finite. */
export function logLoss(yTrue: readonly number[], proba: Matrix): number {
  if (yTrue.length === 0 || yTrue.length !== proba.length) throw new RangeError('logLoss needs equal, non-empty inputs');
  let sum = 0;
  for (let i = 0; i < yTrue.length; i += 1) {
    const p = (proba[i] as readonly number[])[yTrue[i] as number];
    if (p === undefined) throw new RangeError(`row ${i}: label ${yTrue[i]} has no probability column`);
    sum -= Math.log(Math.min(Math.max(p, EPS), 1 - EPS));
  }
  return sum / yTrue.length;
}

/**
 * Binary ROC AUC by the Mann–Whitney rank formulation: the probability that a random
 * positive scores above a random negative, tied pairs counting half (via average ranks).
 * Exact, with no threshold sweep. Returns null when either class is absent.
 *
 * @example
 * binaryAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true]); // 0.75
 */
export function binaryAuc(scores: readonly number[], positive: readonly boolean[]): number | null {
  if (scores.length !== positive.length) throw new RangeError('binaryAuc needs one label per score');
  const order = scores.map((_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number) || a - b);
  let rankSumPos = 0;
  let nPos = 0;
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1] as number] === scores[order[start] as number]) end += 1;
    const avgRank = (start + end) / 2 + 1; // ranks are 1-based
    for (let t = start; t <= end; t += 1) {
      if (positive[order[t] as number]) {
        rankSumPos += avgRank;
        nPos += 1;
      }
    }
    start = end + 1;
  }
  const nNeg = scores.length - nPos;
  if (nPos === 0 || nNeg === 0) return null;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * AUC for any class count: binary AUC of P(class 1) for two classes, otherwise the macro
 * average of one-vs-rest AUCs over the classes present with both outcomes (null if none).
 */
export function multiclassAuc(yTrue: readonly number[], proba: Matrix, classCount: number): number | null {
  const column = (k: number): number[] => proba.map((p) => p[k] as number);
  if (classCount === 2)
    return binaryAuc(
      column(1),
      yTrue.map((y) => y === 1),
    );
  let sum = 0;
  let defined = 0;
  for (let k = 0; k < classCount; k += 1) {
    const auc = binaryAuc(
      column(k),
      yTrue.map((y) => y === k),
    );
    if (auc !== null) {
      sum += auc;
      defined += 1;
    }
  }
  return defined === 0 ? null : sum / defined;
}

/** Accuracy, log loss and AUC of a model on labelled rows (already standardised). */
export function evaluate(model: LogisticModel, x: Matrix, yTrue: readonly number[]): Evaluation {
  const proba = predictProba(model, x);
  return {
    accuracy: accuracy(yTrue, predictClass(proba)),
    logLoss: logLoss(yTrue, proba),
    auc: multiclassAuc(yTrue, proba, model.classCount),
  };
}
