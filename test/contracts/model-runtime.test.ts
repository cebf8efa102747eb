/**
 * @jest-environment <rootDir>/test/support/native-environment.cjs
 *
 * The `ModelRuntime` contract (lib/platform/ports/model-runtime.ts), run against every runtime
 * with a committed fixture artifact, then the ONNX runtime's own rules.
 *
 * A fixture is a folder holding exactly the artifact's files (what is packed into the
 * `.tar.gz`) and, beside it, `<folder>.reference.json`:
 *
 * ```json
 * { "tolerance": 1e-6, "rows": [[1.5, 2, 3]], "predictions": [{ "label": "a", "probabilities": { "a": 0.7, "b": 0.3 } }] }
 * ```
 *
 * with predictions computed outside the runtime under test (scripts/make-onnx-fixture.py: by
 * onnxruntime in Python, checked against the closed-form formula; scripts/make-logistic-fixture.py:
 * the closed form in plain Python). Adding a runtime is one line
 * in {@link FIXTURES}: its factory, the fixture folder and the artifact's model file (the one
 * the corrupt-bytes tests damage).
 *
 * What every runtime owes its callers, beyond the port's types: a wrong-width row is refused
 * with VALIDATION_FAILED, field `inputs[i]`, and a message naming the expected width; a
 * non-finite value with field `inputs[i][j]`; a damaged model file with VALIDATION_FAILED or
 * UNSUPPORTED_FORMAT and a message naming the file; after `close()` every `predict` rejects
 * with a message saying the model was closed, and a second `close()` is harmless.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isAegisError, type AegisError } from '../../lib/kernel/errors.js';
import { LogisticModelRuntime } from '../../lib/platform/adapters/model-runtime/logistic.js';
import { OnnxModelRuntime } from '../../lib/platform/adapters/model-runtime/onnx.js';
import { parseServingJson } from '../../lib/platform/adapters/model-runtime/onnx-serving.js';
import type { ArtifactFiles, LoadedModel, ModelRuntime, Prediction } from '../../lib/platform/ports/model-runtime.js';

interface Fixture {
  name: string;
  runtime: () => ModelRuntime;
  /** the artifact's files, relative to the repository root */
  dir: string;
  /** the file holding the model itself */
  modelFile: string;
}

const FIXTURES: Fixture[] = [
  {
    name: 'logistic, two classes',
    runtime: () => new LogisticModelRuntime(),
    dir: 'test/fixtures/logistic/binary',
    modelFile: 'model.json',
  },
  {
    name: 'logistic, three classes',
    runtime: () => new LogisticModelRuntime(),
    dir: 'test/fixtures/logistic/multiclass',
    modelFile: 'model.json',
  },
  { name: 'ONNX classifier', runtime: () => new OnnxModelRuntime(), dir: 'test/fixtures/onnx/classifier', modelFile: 'model.onnx' },
  {
    name: 'ONNX multiclass, string labels',
    runtime: () => new OnnxModelRuntime(),
    dir: 'test/fixtures/onnx/multiclass',
    modelFile: 'model.onnx',
  },
  { name: 'ONNX regressor', runtime: () => new OnnxModelRuntime(), dir: 'test/fixtures/onnx/regressor', modelFile: 'model.onnx' },
];

interface Reference {
  tolerance: number;
  rows: number[][];
  predictions: Prediction[];
}

/** The folder's files as an unpacked artifact: name → bytes. */
function artifactOf(dir: string): Map<string, Uint8Array> {
  return new Map(readdirSync(dir).map((name) => [name, new Uint8Array(readFileSync(join(dir, name)))]));
}

const referenceOf = (dir: string) => JSON.parse(readFileSync(`${dir}.reference.json`, 'utf8')) as Reference;

const withFile = (files: ArtifactFiles, name: string, bytes: Uint8Array) => new Map([...files, [name, bytes]]);

/** Labels equal; probabilities and values within `tolerance`, relative past magnitude 1. */
function expectClose(actual: Prediction[], expected: Prediction[], tolerance: number): void {
  expect(actual).toHaveLength(expected.length);
  const near = (a: number | undefined, e: number, where: string) => {
    expect(typeof a).toBe('number');
    const gap = Math.abs(a! - e) / Math.max(1, Math.abs(e));
    if (gap > tolerance) throw new Error(`${where}: ${a} differs from the reference ${e} by ${gap} > ${tolerance}`);
  };
  expected.forEach((e, i) => {
    const a = actual[i]!;
    expect(Object.keys(a).sort()).toEqual(Object.keys(e).sort());
    expect(a.label).toBe(e.label);
    if (e.probabilities) {
      expect(Object.keys(a.probabilities ?? {}).sort()).toEqual(Object.keys(e.probabilities).sort());
      for (const [c, p] of Object.entries(e.probabilities)) near(a.probabilities![c], p, `row ${i} P(${c})`);
    }
    if (e.value !== undefined) near(a.value, e.value, `row ${i} value`);
  });
}

async function refusal(promise: Promise<unknown>): Promise<AegisError> {
  const e = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isAegisError(e)) throw new Error(`expected an AegisError, got ${e === undefined ? 'success' : String(e)}`);
  return e;
}

describe.each(FIXTURES)('$name (ModelRuntime contract)', ({ runtime: make, dir, modelFile }) => {
  const files = artifactOf(dir);
  const reference = referenceOf(dir);
  const runtime = make();
  let model: LoadedModel;
  beforeAll(async () => {
    model = await runtime.load(files);
  });
  afterAll(() => model.close());

  it('accepts its artifact and refuses one missing the model file or empty', () => {
    expect(runtime.accepts(files)).toBe(true);
    const without = new Map(files);
    without.delete(modelFile);
    expect(runtime.accepts(without)).toBe(false);
    expect(runtime.accepts(new Map())).toBe(false);
  });

  it("does not accept another format's artifact", () => {
    for (const other of FIXTURES.map((f) => ({ f, r: f.runtime() })).filter(({ r }) => r.format !== runtime.format))
      expect(runtime.accepts(artifactOf(other.f.dir))).toBe(false);
  });

  it('loads a model of its format whose features are one per column of the reference rows', () => {
    expect(model.format).toBe(runtime.format);
    expect(model.features).toHaveLength(reference.rows[0]!.length);
    expect(new Set(model.features).size).toBe(model.features.length);
  });

  it('predicts the reference outputs for the reference rows, within the reference tolerance', async () => {
    expect(reference.tolerance).toBeLessThanOrEqual(1e-6);
    expectClose(await model.predict(reference.rows), reference.predictions, reference.tolerance);
  });

  it('answers a batch in row order, each row as if predicted alone', async () => {
    const reversed = [...reference.rows].reverse();
    expectClose(await model.predict(reversed), [...reference.predictions].reverse(), reference.tolerance);
    for (const i of [0, reference.rows.length - 1])
      expectClose(await model.predict([reference.rows[i]!]), [reference.predictions[i]!], reference.tolerance);
  });

  it('answers concurrent batches independently', async () => {
    const halves = [reference.rows.slice(0, 3), reference.rows.slice(3)];
    const [a, b] = await Promise.all(halves.map((rows) => model.predict(rows)));
    expectClose([...a!, ...b!], reference.predictions, reference.tolerance);
  });

  it('answers an empty batch with no predictions', async () => {
    await expect(model.predict([])).resolves.toEqual([]);
  });

  it('refuses a row of the wrong width, naming the row', async () => {
    const width = model.features.length;
    const good = reference.rows[0]!;
    for (const bad of [[...good, 1], good.slice(0, width - 1), []]) {
      const e = await refusal(model.predict([good, bad]));
      expect(e.code).toBe('VALIDATION_FAILED');
      expect(e.field).toBe('inputs[1]');
      expect(e.message).toContain(String(width));
    }
  });

  it('refuses a value that is not a finite number, naming the row and column', async () => {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const row = [...reference.rows[0]!];
      row[1] = v;
      const e = await refusal(model.predict([reference.rows[0]!, reference.rows[1]!, row]));
      expect(e.code).toBe('VALIDATION_FAILED');
      expect(e.field).toBe('inputs[2][1]');
    }
  });

  it('refuses a model file of random, truncated or empty bytes, naming the file', async () => {
    const original = files.get(modelFile)!;
    const random = Uint8Array.from({ length: 512 }, (_, i) => (i * 7919 + 13) % 251);
    for (const bytes of [random, original.subarray(0, Math.floor(original.length / 2)), new Uint8Array(0)]) {
      const e = await refusal(runtime.load(withFile(files, modelFile, bytes)));
      expect(['VALIDATION_FAILED', 'UNSUPPORTED_FORMAT']).toContain(e.code);
      expect(e.message).toContain(modelFile);
    }
  });

  it('settles a prediction racing close: its answer or a refusal naming the close, never a crash', async () => {
    const own = await runtime.load(files);
    const inFlight = own.predict(reference.rows).then(
      (p) => ({ ok: true as const, n: p.length }),
      (e: unknown) => ({ ok: false as const, message: String(e) }),
    );
    await own.close();
    const settled = await inFlight;
    if (settled.ok) expect(settled.n).toBe(reference.rows.length);
    else expect(settled.message).toMatch(/closed/);
  });

  it('refuses every prediction after close, and closes twice without error', async () => {
    const own = await runtime.load(files);
    expect(await own.predict([reference.rows[0]!])).toHaveLength(1);
    await own.close();
    await own.close();
    await expect(own.predict([reference.rows[0]!])).rejects.toThrow(/closed/);
    // the shared model is untouched: closing one loaded model closes nothing else
    expectClose(await model.predict([reference.rows[0]!]), [reference.predictions[0]!], reference.tolerance);
  });
});

describe('OnnxModelRuntime', () => {
  const dir = 'test/fixtures/onnx/classifier';
  const files = artifactOf(dir);
  const serving = () => JSON.parse(new TextDecoder().decode(files.get('serving.json'))) as Record<string, unknown>;
  const withServing = (s: unknown, base: ArtifactFiles = files) =>
    withFile(base, 'serving.json', new TextEncoder().encode(JSON.stringify(s)));
  const runtime = new OnnxModelRuntime();

  async function expectInvalid(s: unknown, field: string, message: RegExp, base: ArtifactFiles = files) {
    const e = await refusal(runtime.load(withServing(s, base)));
    expect({ code: e.code, field: e.field }).toEqual({ code: 'VALIDATION_FAILED', field });
    expect(e.message).toMatch(message);
    expect(e.message.startsWith(`${field}: `)).toBe(true);
  }

  it('accepts on file names alone: both model.onnx and serving.json', () => {
    expect(runtime.accepts(new Map([['model.onnx', new Uint8Array(0)]]))).toBe(false);
    expect(runtime.accepts(new Map([['serving.json', new Uint8Array(0)]]))).toBe(false);
    expect(runtime.accepts(new Map([['model.json', new Uint8Array(0)]]))).toBe(false);
    expect(
      runtime.accepts(
        new Map([
          ['model.onnx', new Uint8Array(0)],
          ['serving.json', new Uint8Array(0)],
        ]),
      ),
    ).toBe(true);
  });

  it('refuses a serving.json that is not JSON, has a duplicate key or is not UTF-8', async () => {
    for (const [bytes, message] of [
      [new TextEncoder().encode('{"format": "onnx",'), /invalid JSON/],
      [new TextEncoder().encode('{"format": "onnx", "format": "onnx"}'), /twice|duplicate/i],
      [Uint8Array.of(0x7b, 0xff, 0x7d), /UTF-8/],
    ] as const) {
      const e = await refusal(runtime.load(withFile(files, 'serving.json', bytes)));
      expect(e.code).toBe('VALIDATION_FAILED');
      expect(e.field).toMatch(/^serving\.json/);
      expect(e.message).toMatch(message);
    }
  });

  it('refuses a serving.json field of the wrong shape, naming the field', async () => {
    await expectInvalid({ ...serving(), format: 'pickle' }, 'serving.json.format', /onnx/);
    await expectInvalid({ ...serving(), inputs: { name: 'features' } }, 'serving.json.inputs.features', /./);
    await expectInvalid(
      { ...serving(), inputs: { name: 'features', features: ['a', 'b', 'a', 'c'] } },
      'serving.json.inputs.features.2',
      /twice/,
    );
    await expectInvalid({ ...serving(), outputs: {} }, 'serving.json.outputs', /at least one/);
    await expectInvalid({ ...serving(), outputs: { label: 'label', score: 'x' } }, 'serving.json.outputs.score', /unknown field/);
    await expectInvalid({ ...serving(), classes: undefined }, 'serving.json.classes', /probabilities/);
    await expectInvalid({ ...serving(), classes: ['only'] }, 'serving.json.classes', /./);
    await expectInvalid({ ...serving(), extra: 1 }, 'serving.json.extra', /unknown field/);
  });

  it('refuses serving.json names the graph does not have, naming the serving.json field', async () => {
    await expectInvalid(
      { ...serving(), inputs: { name: 'X', features: ['a', 'b', 'c', 'd'] } },
      'serving.json.inputs.name',
      /no input "X".*features/,
    );
    await expectInvalid({ ...serving(), outputs: { label: 'predicted' } }, 'serving.json.outputs.label', /no output "predicted"/);
    await expectInvalid(
      { ...serving(), outputs: { value: 'probabilities', probabilities: 'probs' } },
      'serving.json.outputs.probabilities',
      /no output "probs"/,
    );
  });

  it("refuses a feature list or class list the graph's shapes contradict", async () => {
    await expectInvalid(
      { ...serving(), inputs: { name: 'features', features: ['a', 'b', 'c'] } },
      'serving.json.inputs.features',
      /3 features.*takes 4/,
    );
    await expectInvalid({ ...serving(), classes: ['a', 'b', 'c'] }, 'serving.json.classes', /3 classes.*2 columns/);
  });

  it('refuses a ZipMap (sequence of maps) output with the skl2onnx advice', async () => {
    const zipmap = withFile(files, 'model.onnx', new Uint8Array(readFileSync('test/fixtures/onnx/refused/zipmap.onnx')));
    const s = {
      format: 'onnx',
      inputs: { name: 'x', features: ['a', 'b'] },
      outputs: { label: 'label', probabilities: 'probabilities' },
      classes: ['0', '1'],
    };
    await expectInvalid(s, 'serving.json.outputs.probabilities', /not a tensor.*zipmap=False/, zipmap);
  });

  it('refuses a graph whose input is not float32 as an unsupported model.onnx', async () => {
    const intInput = withFile(files, 'model.onnx', new Uint8Array(readFileSync('test/fixtures/onnx/refused/int64-input.onnx')));
    const s = { format: 'onnx', inputs: { name: 'x', features: ['a', 'b'] }, outputs: { value: 'y' } };
    const e = await refusal(runtime.load(withServing(s, intInput)));
    expect({ code: e.code, field: e.field }).toEqual({ code: 'UNSUPPORTED_FORMAT', field: 'model.onnx' });
    expect(e.message).toMatch(/int64.*float32/);
  });

  it('maps an integer label to its class, or to its index when serving.json has no classes', async () => {
    const rows = referenceOf(dir).rows.slice(0, 4);
    const named = await runtime.load(files);
    const bare = await runtime.load(withServing({ ...serving(), outputs: { label: 'label' }, classes: undefined }));
    try {
      const [a, b] = [await named.predict(rows), await bare.predict(rows)];
      expect(b.map((p) => Object.keys(p))).toEqual(rows.map(() => ['label']));
      expect(b.map((p) => ['stay', 'churn'][Number(p.label)])).toEqual(a.map((p) => p.label));
    } finally {
      await Promise.all([named.close(), bare.close()]);
    }
  });

  it('labels by the most probable class when serving.json names no label output', async () => {
    const { rows, predictions } = referenceOf(dir);
    const model = await runtime.load(withServing({ ...serving(), outputs: { probabilities: 'probabilities' } }));
    try {
      expectClose(await model.predict(rows), predictions, 1e-6);
    } finally {
      await model.close();
    }
  });

  it('orders features as serving.json lists them', async () => {
    const model = await runtime.load(files);
    try {
      expect(model.features).toEqual(['tenure_months', 'monthly_charges', 'support_calls', 'age']);
    } finally {
      await model.close();
    }
  });

  it('refuses ONNX artifacts as UNSUPPORTED_FORMAT when onnxruntime-node cannot be loaded, and retries the import later', async () => {
    let attempts = 0;
    const flaky = new OnnxModelRuntime({
      loadOrt: async () => {
        attempts += 1;
        if (attempts === 1) throw new Error("Cannot find package 'onnxruntime-node'");
        return import('onnxruntime-node');
      },
    });
    const e = await refusal(flaky.load(files));
    expect({ code: e.code, field: e.field }).toEqual({ code: 'UNSUPPORTED_FORMAT', field: 'model.onnx' });
    expect(e.message).toMatch(/onnxruntime-node.*optional dependency/);
    const model = await flaky.load(files);
    await model.close();
    expect(attempts).toBe(2);
  });

  it('checks serving.json before touching the model bytes', async () => {
    const e = await refusal(runtime.load(withServing({ ...serving(), format: 'tf' }, withFile(files, 'model.onnx', new Uint8Array(3)))));
    expect(e.field).toBe('serving.json.format');
  });

  it('parses the committed fixtures serving.json files', () => {
    for (const d of ['classifier', 'multiclass', 'regressor'])
      expect(parseServingJson(new Uint8Array(readFileSync(`test/fixtures/onnx/${d}/serving.json`))).format).toBe('onnx');
  });

  it('refuses a threads setting that is not a positive integer', () => {
    expect(() => new OnnxModelRuntime({ threads: 0 })).toThrow(/threads/);
  });
});
