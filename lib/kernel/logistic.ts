/**
 * The predict half of the built-in logistic regression (`aegis.logreg/v1`): standardisation,
 * sigmoid for two classes, softmax for more. Pure, and shared by the trainer (which evaluates
 * with it) and the serving runtime (which answers with it), so a served prediction is
 * bit-for-bit the trainer's.
 */

/** Rows of numeric features. */
export type Matrix = readonly (readonly number[])[];

/** Per-feature mean and population standard deviation, fitted on the training split only. */
export interface Standardiser {
  readonly mean: number[];
  readonly std: number[];
}

/** A fitted model: one weight row per output (1 output for two classes, K for K > 2). */
export interface LogisticModel {
  readonly classCount: number;
  readonly weights: number[][];
  readonly bias: number[];
}

/** Applies a fitted standardiser: (x - mean) / std per column. */
export function standardise(x: Matrix, s: Standardiser): number[][] {
  return x.map((row) => row.map((v, j) => (v - (s.mean[j] as number)) / (s.std[j] as number)));
}

/** Numerically stable sigmoid: never exponentiates a large positive number. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** Class probabilities for one (standardised) row; always `classCount` entries summing to 1. */
export function rowProba(model: LogisticModel, row: readonly number[]): number[] {
  const z = model.weights.map((w, k) => {
    let acc = model.bias[k] as number;
    for (let j = 0; j < w.length; j += 1) acc += (w[j] as number) * (row[j] as number);
    return acc;
  });
  if (model.classCount === 2) {
    const p = sigmoid(z[0] as number);
    return [1 - p, p];
  }
  // Subtracting the max keeps exp() finite without changing the softmax.
  let max = Number.NEGATIVE_INFINITY;
  for (const v of z) if (v > max) max = v; // a loop, not Math.max(...z): the class count comes from the data
  const e = z.map((v) => Math.exp(v - max));
  let sum = 0;
  for (const v of e) sum += v;
  return e.map((v) => v / sum);
}

/**
 * Probabilities for each (standardised) row (rows × classCount).
 *
 * @example predictProba(model, standardise([[1.2, 3]], scaler)) // [[0.31, 0.69]]
 */
export function predictProba(model: LogisticModel, x: Matrix): number[][] {
  return x.map((row) => rowProba(model, row));
}

/** Most probable class per row; ties go to the lower class index so the choice is stable. */
export function predictClass(proba: Matrix): number[] {
  return proba.map((p) => {
    let best = 0;
    for (let k = 1; k < p.length; k += 1) if ((p[k] as number) > (p[best] as number)) best = k;
    return best;
  });
}
