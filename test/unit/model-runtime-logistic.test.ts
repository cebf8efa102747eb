import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { runBuiltinTrainer, type BuiltinMetrics } from '../../lib/clients/training/builtin-trainer.js';
import { accuracy, logLoss } from '../../lib/clients/training/logistic-regression.js';
import { createPrng } from '../../lib/clients/training/prng.js';
import { AegisError } from '../../lib/kernel/errors.js';
import { LogisticModelRuntime } from '../../lib/platform/adapters/model-runtime/logistic.js';
import type { ArtifactFiles } from '../../lib/platform/ports/model-runtime.js';

const runtime = new LogisticModelRuntime();
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'aegis-logreg-runtime-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const filesOf = (modelJson: Uint8Array): ArtifactFiles => new Map([['model.json', modelJson]]);

/** Trains on a sample, then rebuilds the trainer's holdout split (the PRNG's first draw) from the CSV. */
async function trainAndHoldout(dataset: string, seed: number) {
  const outDir = join(tmp, `${seed}-${dataset.replace(/\W/g, '_')}`);
  const { metrics } = await runBuiltinTrainer({ datasets: [{ id: 'd', path: dataset }], outDir, seed, hyperparams: {} });
  const rows = parse(await readFile(join(dataset, 'train.csv'), 'utf8'), { columns: true, bom: true, trim: true }) as Record<
    string,
    string
  >[];
  const shuffled = createPrng(seed).shuffle(Array.from({ length: rows.length }, (_, i) => i));
  const holdout = shuffled.slice(0, metrics.holdoutRows).sort((a, b) => a - b);
  return { metrics, modelJson: await readFile(join(outDir, 'model.json')), holdout: holdout.map((i) => rows[i]!) };
}

async function expectTrainerEvaluation(dataset: string, seed: number) {
  const { metrics, modelJson, holdout } = await trainAndHoldout(dataset, seed);
  const files = filesOf(modelJson);
  expect(runtime.accepts(files)).toBe(true);
  const model = await runtime.load(files);
  const x = holdout.map((r) => model.features.map((f) => Number(r[f])));
  const preds = await model.predict(x);
  const m: BuiltinMetrics = metrics;
  const yTrue = holdout.map((r) => m.classes.indexOf(r.label!));
  const yPred = preds.map((p) => m.classes.indexOf(p.label!));
  const proba = preds.map((p) => m.classes.map((c) => p.probabilities![c]!));
  // the same numbers bit for bit, not approximately: the runtime runs the trainer's own predict code
  expect(accuracy(yTrue, yPred)).toBe(m.accuracy);
  expect(logLoss(yTrue, proba)).toBe(m.logLoss);
  for (const p of proba) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  await model.close();
  await expect(model.predict(x)).rejects.toThrow(/closed/);
}

describe('LogisticModelRuntime', () => {
  it('answers the trainer evaluation on the binary sample (sigmoid)', async () => {
    await expectTrainerEvaluation(join(process.cwd(), 'test/data/sample'), 7);
  });

  it('answers the trainer evaluation on the multiclass sample (softmax)', async () => {
    await expectTrainerEvaluation(join(process.cwd(), 'test/data/sample-multiclass'), 11);
  });

  const good = {
    format: 'aegis.logreg/v1',
    activation: 'sigmoid',
    classes: ['no', 'yes'],
    features: ['a', 'b'],
    standardisation: { mean: [0, 0], std: [1, 1] },
    weights: [[2, -1]],
    bias: [0],
  };

  it('names features in training order and maps classes to labels', async () => {
    const model = await runtime.load(filesOf(enc(good)));
    expect(model.features).toEqual(['a', 'b']);
    const [p] = await model.predict([[1, 0]]);
    expect(p!.label).toBe('yes');
    expect(p!.probabilities!.yes).toBeCloseTo(1 / (1 + Math.exp(-2)), 12);
  });

  it('does not accept files of another format or without model.json', () => {
    expect(runtime.accepts(new Map([['model.onnx', new Uint8Array([8, 1])]]))).toBe(false);
    expect(runtime.accepts(filesOf(enc({ ...good, format: 'sklearn.pickle' })))).toBe(false);
    expect(runtime.accepts(filesOf(new TextEncoder().encode('not json')))).toBe(false);
  });

  it.each([
    ['weights of the wrong width', { weights: [[1, 2, 3]] }, 'model.json.weights'],
    ['a zero std', { standardisation: { mean: [0, 0], std: [1, 0] } }, 'model.json.standardisation.std.1'],
    ['softmax for two classes', { activation: 'softmax' }, 'model.json.activation'],
    ['a missing bias', { bias: undefined }, 'model.json.bias'],
    ['a non-numeric weight', { weights: [[1, 'x']] }, 'model.json.weights.0.1'],
  ])('refuses a model.json with %s, naming the field', async (_, patch, field) => {
    const err = await runtime.load(filesOf(enc({ ...good, ...patch }))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AegisError);
    expect(err).toMatchObject({ code: 'VALIDATION_FAILED', field });
  });

  it('refuses an artifact without model.json as UNSUPPORTED_FORMAT', async () => {
    await expect(runtime.load(new Map())).rejects.toMatchObject({ code: 'UNSUPPORTED_FORMAT' });
  });
});
