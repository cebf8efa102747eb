/**
 * The built-in trainer: logistic regression on a CSV, so the whole Aegis lifecycle runs with
 * nothing else installed. `aegis train --record` re-runs it to check reproducibility, so every
 * output byte is a function of (input bytes, hyperparameters, seed, Node major): one seeded
 * PRNG stream, sums in row order, JSON written canonically (RFC 8785).
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import * as z from 'zod';
import { canonicalJson } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';
import { buildBaseline } from '../../kernel/baseline-build.js';
import type { BaselineProfile } from '../../kernel/baseline-profile.js';
import {
  evaluate,
  fitStandardiser,
  predictProba,
  standardise,
  trainLogisticRegression,
  type Evaluation,
  type LogisticModel,
  type Matrix,
} from './logistic-regression.js';
import { createPrng } from './prng.js';

export const MODEL_FORMAT = 'aegis.logreg/v1';

/** Hyperparameters of the built-in trainer; unknown keys are refused so typos cannot pass silently. */
export const BuiltinHyperparams = z.strictObject({
  target: z.string().min(1).default('label'),
  learningRate: z.number().positive().max(1e6).default(0.1),
  epochs: z.number().int().min(1).max(1_000_000).default(200),
  l2: z.number().min(0).max(1e6).default(1e-4),
  holdoutFraction: z.number().gt(0).lte(0.5).default(0.2),
  batchSize: z.number().int().min(0).default(0), // 0 = full batch
  features: z.array(z.string().min(1)).min(1).optional(), // default: all but the target, header order
});
export type BuiltinHyperparams = z.infer<typeof BuiltinHyperparams>;

/** Inputs of {@link runBuiltinTrainer}; only the first dataset is read (the training data). */
export interface BuiltinTrainerOptions {
  readonly datasets: readonly { id: string; path: string }[];
  readonly outDir: string;
  /** Integer in [0, 2^32 - 1], as a training manifest records it. */
  readonly seed: number;
  readonly hyperparams: Record<string, unknown>;
  readonly onProgress?: (msg: string) => void;
}

/** Holdout metrics, also written to `metrics.json`. `auc` is null if the holdout has one class. */
export type BuiltinMetrics = Evaluation & { holdoutRows: number; trainRows: number; classes: string[] };

const invalid = (message: string, field?: string): AegisError =>
  new AegisError('VALIDATION_FAILED', message, field === undefined ? {} : { field });

/** Parses hyperparameters, naming the offending field in the error. */
export function parseHyperparams(raw: Record<string, unknown>): BuiltinHyperparams {
  const result = BuiltinHyperparams.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    throw invalid(`unknown hyperparameter(s): ${issue.keys.join(', ')}`, `hyperparams.${issue.keys[0] ?? ''}`);
  }
  const field = issue?.path.join('.') ?? '';
  throw invalid(`invalid hyperparameter "${field}": ${issue?.message ?? 'invalid'}`, `hyperparams.${field}`);
}

/** A folder means its `train.csv`; anything else must be the CSV file itself. */
async function resolveCsv(path: string): Promise<string> {
  const info = await stat(path).catch(() => Promise.reject(invalid(`training dataset not found: ${path}`, 'datasets[0].path')));
  if (!info.isDirectory()) return path;
  const csv = join(path, 'train.csv');
  if (
    await stat(csv).then(
      (s) => s.isFile(),
      () => false,
    )
  )
    return csv;
  throw invalid(`training dataset folder ${path} has no train.csv`, 'datasets[0].path');
}

type Dataset = { features: string[]; classes: string[]; x: number[][]; y: number[] };

// Plain decimal numbers only: Number() would also accept "", "0x1f" and "Infinity".
const NUMERIC = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function readDataset(text: string, path: string, hp: BuiltinHyperparams): Dataset {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, trim: true, skip_empty_lines: true, info: true }) as unknown as typeof records;
  } catch (e) {
    throw invalid(`${path}: not valid CSV: ${(e as Error).message}`, 'datasets[0].path');
  }
  const header = records[0]?.record;
  if (!header) throw invalid(`${path} is empty: a header row is required`, 'datasets[0].path');
  if (new Set(header).size !== header.length) throw invalid(`${path}: duplicate column names in the header`, 'datasets[0].path');
  const targetCol = header.indexOf(hp.target);
  if (targetCol < 0) throw invalid(`${path}: target column "${hp.target}" not in header (${header.join(', ')})`, 'hyperparams.target');
  const features = hp.features ?? header.filter((h) => h !== hp.target);
  if (features.length === 0) throw invalid(`${path}: no feature columns besides the target`, 'hyperparams.features');
  if (new Set(features).size !== features.length) throw invalid('features lists a column twice', 'hyperparams.features');
  const cols = features.map((f) => {
    const c = header.indexOf(f);
    if (c < 0 || f === hp.target) throw invalid(`feature "${f}" is not a non-target column of ${path}`, 'hyperparams.features');
    return c;
  });
  const body = records.slice(1);
  if (body.length < 2)
    throw invalid(`${path} has ${body.length} data rows; at least 2 are needed to train and evaluate`, 'datasets[0].path');
  const labels = body.map(({ record, info }, i) => {
    const label = record[targetCol] as string;
    if (label === '') throw invalid(`${path}: row ${i + 1} (line ${info.lines}) has an empty "${hp.target}"`, 'datasets[0].path');
    return label;
  });
  // Code-unit order, not localeCompare: the class order must not depend on the machine's locale.
  const classes = [...new Set(labels)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (classes.length < 2) throw invalid(`${path}: target "${hp.target}" has a single class (${classes[0]})`, 'hyperparams.target');
  const x = body.map(({ record, info }, i) =>
    cols.map((c, j) => {
      const cell = record[c] as string;
      const value = NUMERIC.test(cell) ? Number(cell) : NaN; // "1e999" passes the pattern but is Infinity
      if (Number.isFinite(value)) return value;
      throw invalid(
        `${path}: row ${i + 1} (line ${info.lines}), column "${features[j]}": "${cell}" is not a finite number`,
        'datasets[0].path',
      );
    }),
  );
  return { features, classes, x, y: labels.map((l) => classes.indexOf(l)) };
}

/**
 * The training split's profile (baseline v2), the reference a later drift check compares
 * serving data to: the train split's features and labels, the holdout's prediction scores
 * (the positive class's probability, or the top class's for more than two classes) and
 * metrics, and the features ranked by their standardised weights.
 */
export function baselineProfile(
  train: { x: Matrix; y: readonly number[] },
  holdout: { proba: Matrix; metrics: Evaluation },
  model: LogisticModel,
  data: Pick<Dataset, 'features' | 'classes'>,
  target: string,
): BaselineProfile {
  const { features, classes } = data;
  const binary = classes.length === 2;
  const { accuracy, logLoss, auc } = holdout.metrics;
  return buildBaseline({
    columns: features.map((name, j) => ({ name, kind: 'numeric' as const, values: train.x.map((row) => row[j] as number) })),
    label: { column: target, values: train.y.map((k) => classes[k] as string) },
    predictions: {
      score: binary ? `p(${classes[1]})` : 'max(p)',
      values: holdout.proba.map((p) => (binary ? (p[1] as number) : Math.max(...p))),
    },
    holdoutMetrics: { accuracy, logLoss, ...(auc === null ? {} : { auc }) },
    featureWeights: Object.fromEntries(features.map((name, j) => [name, model.weights.map((w) => w[j] as number)])),
  });
}

/** Normalises -0 to 0 and refuses NaN/Infinity, which have no canonical JSON form. */
function finiteJson(value: unknown, at: string): unknown {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw invalid(`${at} is ${value}: training diverged or the data has extreme values (try a smaller learningRate)`);
    }
    return value === 0 ? 0 : value;
  }
  if (Array.isArray(value)) return value.map((v, i) => finiteJson(v, `${at}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, finiteJson(v, `${at}.${k}`)]));
  }
  return value;
}

/**
 * Trains logistic regression on the first dataset and writes `model.json`, `metrics.json` and
 * `baseline.json` (canonical JSON + newline) into `outDir`. Same inputs + seed ⇒ same bytes.
 *
 * @returns holdout metrics and the written file paths (`outDir` joined with each name).
 * @throws AegisError VALIDATION_FAILED naming the field, path, row or column at fault.
 * @example
 * const { metrics } = await runBuiltinTrainer({ datasets: [{ id: 'd', path: 'test/data/sample' }], outDir: 'out', seed: 7, hyperparams: {} });
 */
export async function runBuiltinTrainer(opts: BuiltinTrainerOptions): Promise<{ metrics: BuiltinMetrics; files: string[] }> {
  const hp = parseHyperparams(opts.hyperparams);
  if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 2 ** 32 - 1) {
    throw invalid(`seed must be an integer in [0, 2^32 - 1], got ${opts.seed}`, 'seed');
  }
  const first = opts.datasets[0];
  if (!first) throw invalid('the built-in trainer needs a training dataset', 'datasets');
  const csvPath = await resolveCsv(first.path);
  const data = readDataset(await readFile(csvPath, 'utf8'), csvPath, hp);
  const progress = opts.onProgress ?? (() => undefined);
  progress(`read ${data.x.length} rows, ${data.features.length} features, classes ${data.classes.join(', ')} from ${csvPath}`);

  // One stream for everything (split, then initial weights, then batch order): no correlated reuse.
  const rng = createPrng(opts.seed);
  const n = data.x.length;
  const holdoutRows = Math.max(1, Math.round(n * hp.holdoutFraction));
  const shuffled = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const byIndex = (a: number, b: number) => a - b; // file order within each split
  const holdIdx = shuffled.slice(0, holdoutRows).sort(byIndex);
  const trainIdx = shuffled.slice(holdoutRows).sort(byIndex);
  const pick = <T>(arr: readonly T[], idx: number[]) => idx.map((i) => arr[i] as T);
  const [xTrain, yTrain, xHold, yHold] = [pick(data.x, trainIdx), pick(data.y, trainIdx), pick(data.x, holdIdx), pick(data.y, holdIdx)];

  const scaler = fitStandardiser(xTrain);
  const model = trainLogisticRegression(standardise(xTrain, scaler), yTrain, {
    classCount: data.classes.length,
    learningRate: hp.learningRate,
    epochs: hp.epochs,
    l2: hp.l2,
    batchSize: hp.batchSize,
    rng,
    onProgress: ({ epoch, epochs, loss }) => progress(`epoch ${epoch}/${epochs}: training log loss ${loss.toFixed(4)}`),
  });
  const xHoldStd = standardise(xHold, scaler);
  const evaluation = evaluate(model, xHoldStd, yHold);
  const metrics: BuiltinMetrics = { ...evaluation, holdoutRows, trainRows: trainIdx.length, classes: data.classes };

  // Thunks, checked in order: a diverged model is named before the baseline of its scores.
  const outputs: [string, () => unknown][] = [
    [
      'model.json',
      () => ({
        format: MODEL_FORMAT,
        activation: data.classes.length === 2 ? 'sigmoid' : 'softmax',
        classes: data.classes,
        features: data.features,
        standardisation: scaler,
        weights: model.weights,
        bias: model.bias,
        hyperparams: hp,
        seed: opts.seed,
      }),
    ],
    ['metrics.json', () => metrics],
    [
      'baseline.json',
      () =>
        baselineProfile({ x: xTrain, y: yTrain }, { proba: predictProba(model, xHoldStd), metrics: evaluation }, model, data, hp.target),
    ],
  ];
  // Validate everything before writing anything, so a failure leaves no partial output.
  const texts = outputs.map(([name, value]) => [name, `${canonicalJson(finiteJson(value(), name))}\n`] as const);
  await mkdir(opts.outDir, { recursive: true });
  const files = texts.map(([name]) => join(opts.outDir, name));
  for (const [i, [, text]] of texts.entries()) await writeFile(files[i] as string, text, 'utf8');
  progress(`holdout accuracy ${metrics.accuracy.toFixed(4)}, AUC ${metrics.auc?.toFixed(4) ?? 'n/a'}; wrote ${files.join(', ')}`);
  return { metrics, files };
}
