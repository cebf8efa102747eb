/**
 * The ONNX model runtime: an artifact holding `model.onnx` and `serving.json`, run by
 * onnxruntime-node (the native CPU build) in this process.
 *
 * Why onnxruntime-node and not onnxruntime-web (wasm), both 1.30.0, measured on this repo's
 * 4-feature fixture on a shared 2-vCPU machine (Node 20.20, 3 runs each):
 *
 * | | onnxruntime-node | onnxruntime-web (wasm, 1 thread) |
 * |---|---|---|
 * | import | 40–75 ms | 35–110 ms |
 * | first session from bytes | 50–97 ms (later ones ~1.4 ms) | 820–990 ms |
 * | 1 row, p50 / p99 | 17–30 µs / 0.1–0.7 ms | 36–40 µs / 3–6 ms |
 * | 100 rows, p50 / p99 | 22–45 µs / 0.1–0.6 ms | 42–55 µs / 0.4–2.2 ms |
 * | RSS after load | 86–88 MiB | 124–126 MiB |
 * | installed size | 288 MB (all platforms); linux/x64 alone 46 MB | 139 MB; the CPU wasm 14 MB |
 *
 * A serving Lambda pays the session cost on every cold start, and the p99 matters to the canary
 * judge, so the native build wins; its costs are an install script (see `.npmrc`: it must not
 * download CUDA files) and a size that only fits a Lambda when trimmed to linux/x64. It is an
 * optional dependency, imported on the first ONNX load: a process that serves no ONNX model
 * never loads the 46 MB library, and without the package an ONNX artifact is refused
 * (`UNSUPPORTED_FORMAT`) while every other format still serves. esbuild leaves it external
 * (native code is loaded from node_modules). Sessions use one intra-op thread: these tabular
 * models are far too small to gain from a thread pool, which would compete with the event loop.
 *
 * `serving.json` (the schema and its rules: `onnx-serving.ts`):
 *
 * ```json
 * { "format": "onnx",
 *   "inputs": { "name": "features", "features": ["tenure_months", "monthly_charges", "support_calls", "age"] },
 *   "outputs": { "label": "label", "probabilities": "probabilities" },
 *   "classes": ["stay", "churn"] }
 * ```
 *
 * @example
 * const runtime = new OnnxModelRuntime();
 * if (runtime.accepts(files)) {
 *   const model = await runtime.load(files);
 *   const [p] = await model.predict([[12, 70.5, 3, 41]]); // { label: 'churn', probabilities: { stay: 0.2, churn: 0.8 } }
 *   await model.close();
 * }
 */
import type * as Ort from 'onnxruntime-node';
import { checkRows } from '../../../kernel/model-rows.js';
import { AegisError } from '../../../kernel/errors.js';
import type { ArtifactFiles, LoadedModel, ModelRuntime, Prediction } from '../../ports/model-runtime.js';
import { MODEL_FILE, ONNX_FORMAT, SERVING_FILE, invalidServing as invalid, parseServingJson, type ServingJson } from './onnx-serving.js';

type OrtModule = typeof Ort;
type Session = Ort.InferenceSession;

export interface OnnxModelRuntimeOptions {
  /** intra-op threads per session (default 1: see the module's TSDoc) */
  threads?: number;
  /** how onnxruntime-node is loaded; tests inject a failing one to check the refusal */
  loadOrt?: () => Promise<OrtModule>;
}

/** The first line of a native error, without onnxruntime's file:line prefix noise. */
const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);

const defaultLoadOrt = (): Promise<OrtModule> => import('onnxruntime-node');

/** The {@link ModelRuntime} for `model.onnx` + `serving.json` artifacts. */
export class OnnxModelRuntime implements ModelRuntime {
  readonly format = ONNX_FORMAT;
  readonly #threads: number;
  readonly #loadOrt: () => Promise<OrtModule>;
  #ort: Promise<OrtModule> | undefined;

  constructor(opts: OnnxModelRuntimeOptions = {}) {
    this.#threads = opts.threads ?? 1;
    if (!Number.isInteger(this.#threads) || this.#threads < 1)
      throw new AegisError('CONFIG_INVALID', `ONNX runtime threads must be a positive integer, got ${this.#threads}`);
    this.#loadOrt = opts.loadOrt ?? defaultLoadOrt;
  }

  /** Both files present: the format is decided by file names, the cheap test the port asks for. */
  accepts(files: ArtifactFiles): boolean {
    return files.has(MODEL_FILE) && files.has(SERVING_FILE);
  }

  /**
   * Checks `serving.json`, creates the session from `model.onnx`'s bytes and checks the two agree.
   *
   * @throws AegisError `VALIDATION_FAILED` naming the `serving.json` field at fault (also when it
   *   names a graph input or output that does not exist, or a width or class count the graph
   *   contradicts); `UNSUPPORTED_FORMAT` naming `model.onnx` when onnxruntime cannot load it, when
   *   its input is not float32, or when onnxruntime-node is not installed.
   */
  async load(files: ArtifactFiles): Promise<LoadedModel> {
    const servingBytes = files.get(SERVING_FILE);
    if (!servingBytes) throw invalid('', `the artifact has no ${SERVING_FILE}`);
    const serving = parseServingJson(servingBytes);
    const modelBytes = files.get(MODEL_FILE);
    if (!modelBytes)
      throw new AegisError('UNSUPPORTED_FORMAT', `the artifact has no ${MODEL_FILE}`, { field: MODEL_FILE, details: { file: MODEL_FILE } });
    const ort = await this.#runtime();
    let session: Session;
    try {
      session = await ort.InferenceSession.create(modelBytes, {
        executionProviders: ['cpu'],
        intraOpNumThreads: this.#threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
    } catch (e) {
      throw new AegisError('UNSUPPORTED_FORMAT', `${MODEL_FILE} is not an ONNX model onnxruntime can load: ${firstLine(e)}`, {
        field: MODEL_FILE,
        details: { file: MODEL_FILE },
        cause: e,
      });
    }
    try {
      checkGraph(session, serving);
    } catch (e) {
      await session.release();
      throw e;
    }
    return new OnnxModel(ort, session, serving);
  }

  /** onnxruntime-node, imported once per runtime (a failed import is retried on the next load). */
  #runtime(): Promise<OrtModule> {
    this.#ort ??= this.#loadOrt().catch((e: unknown) => {
      this.#ort = undefined;
      throw new AegisError(
        'UNSUPPORTED_FORMAT',
        `ONNX models cannot be served by this installation: onnxruntime-node (an optional dependency) did not load: ${firstLine(e)}`,
        { field: MODEL_FILE, details: { file: MODEL_FILE }, cause: e },
      );
    });
    return this.#ort;
  }
}

const meta = (list: readonly Ort.InferenceSession.ValueMetadata[], name: string) => list.find((m) => m.name === name);
const dim = (m: Ort.InferenceSession.ValueMetadata | undefined, i: number) =>
  m?.isTensor && typeof m.shape[i] === 'number' ? m.shape[i] : undefined;

/** serving.json against the graph: names exist, the input is float32 of the right width, outputs are tensors. */
function checkGraph(session: Session, serving: ServingJson): void {
  const { inputNames, outputNames, inputMetadata, outputMetadata } = session;
  const input = serving.inputs.name;
  if (!inputNames.includes(input))
    throw invalid('inputs.name', `the graph has no input ${JSON.stringify(input)} (its inputs: ${inputNames.join(', ')})`);
  if (inputNames.length !== 1)
    throw invalid('inputs.name', `the graph has ${inputNames.length} inputs (${inputNames.join(', ')}); Aegis feeds exactly one`);
  const im = meta(inputMetadata, input);
  if (im?.isTensor && im.type !== 'float32')
    throw new AegisError('UNSUPPORTED_FORMAT', `${MODEL_FILE}: input ${input} is ${im.type}; Aegis feeds float32 rows`, {
      field: MODEL_FILE,
      details: { file: MODEL_FILE },
    });
  const width = serving.inputs.features.length;
  // an empty shape means the graph does not declare one: the first run will tell
  if (im?.isTensor && im.shape.length > 0 && im.shape.length !== 2)
    throw invalid('inputs.name', `the graph's input ${input} has rank ${im.shape.length}; Aegis feeds [rows, features]`);
  const graphWidth = dim(im, 1);
  if (graphWidth !== undefined && graphWidth !== width)
    throw invalid('inputs.features', `lists ${width} features; the graph's input ${input} takes ${graphWidth}`);
  for (const key of ['label', 'probabilities', 'value'] as const) {
    const name = serving.outputs[key];
    if (name === undefined) continue;
    if (!outputNames.includes(name))
      throw invalid(`outputs.${key}`, `the graph has no output ${JSON.stringify(name)} (its outputs: ${outputNames.join(', ')})`);
    const om = meta(outputMetadata, name);
    if (om && !om.isTensor)
      throw invalid(
        `outputs.${key}`,
        `output ${name} is not a tensor (a ZipMap's sequence of maps?): export the model with plain tensor outputs (skl2onnx: zipmap=False)`,
      );
  }
  const classes = serving.classes?.length;
  const probabilityWidth =
    serving.outputs.probabilities === undefined ? undefined : dim(meta(outputMetadata, serving.outputs.probabilities), 1);
  if (classes !== undefined && probabilityWidth !== undefined && probabilityWidth !== classes)
    throw invalid(
      'classes',
      `lists ${classes} classes; the graph's ${serving.outputs.probabilities} output has ${probabilityWidth} columns`,
    );
}

class OnnxModel implements LoadedModel {
  readonly format = ONNX_FORMAT;
  readonly features: readonly string[];
  #closed = false;

  constructor(
    private readonly ort: OrtModule,
    private readonly session: Session,
    private readonly serving: ServingJson,
  ) {
    this.features = Object.freeze([...serving.inputs.features]);
  }

  async predict(rows: readonly (readonly number[])[]): Promise<Prediction[]> {
    if (this.#closed) throw new AegisError('INTERNAL', 'the ONNX model was closed: it answers nothing after close()');
    const width = this.features.length;
    const n = rows.length;
    if (n === 0) return [];
    const data = new Float32Array(n * width);
    checkRows(rows, this.features);
    rows.forEach((row, i) => data.set(row, i * width));
    const { outputs } = this.serving;
    const fetches = [outputs.label, outputs.probabilities, outputs.value].filter((x): x is string => x !== undefined);
    let result: Ort.InferenceSession.OnnxValueMapType;
    try {
      result = await this.session.run({ [this.serving.inputs.name]: new this.ort.Tensor('float32', data, [n, width]) }, fetches);
    } catch (e) {
      // a closed session throws too: say which, since close() may race a request in flight
      if (this.#closed) throw new AegisError('INTERNAL', 'the ONNX model was closed while predicting', { cause: e });
      throw new AegisError('INTERNAL', `${MODEL_FILE} failed to run: ${firstLine(e)}`, { cause: e });
    }
    return this.#predictions(result, n);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.session.release();
  }

  #predictions(result: Ort.InferenceSession.OnnxValueMapType, n: number): Prediction[] {
    const { outputs, classes } = this.serving;
    const out: Prediction[] = Array.from({ length: n }, () => ({}));
    if (outputs.probabilities !== undefined) {
      const t = tensorOf(result, outputs.probabilities);
      const k = classes!.length;
      if (t.data.length !== n * k) throw broken(`${outputs.probabilities} has ${t.data.length} values for ${n} rows of ${k} classes`);
      const values = t.data as Float32Array | Float64Array;
      for (let i = 0; i < n; i++) {
        const p: Record<string, number> = {};
        for (let j = 0; j < k; j++) p[classes![j]!] = Number(values[i * k + j]);
        out[i]!.probabilities = p;
      }
    }
    if (outputs.label !== undefined) {
      const t = tensorOf(result, outputs.label);
      if (t.data.length !== n) throw broken(`${outputs.label} has ${t.data.length} values for ${n} rows`);
      for (let i = 0; i < n; i++) out[i]!.label = this.#label(t.data[i]!);
    } else if (outputs.probabilities !== undefined) {
      for (const p of out) p.label = argmax(p.probabilities!, classes!);
    }
    if (outputs.value !== undefined) {
      const t = tensorOf(result, outputs.value);
      if (t.data.length !== n) throw broken(`${outputs.value} has ${t.data.length} values for ${n} rows`);
      for (let i = 0; i < n; i++) out[i]!.value = Number(t.data[i]);
    }
    return out;
  }

  #label(raw: number | bigint | string | boolean): string {
    if (typeof raw === 'string') return raw;
    const classes = this.serving.classes;
    if (classes === undefined) return String(raw);
    const index = Number(raw);
    const label = Number.isInteger(index) ? classes[index] : undefined;
    if (label === undefined) throw broken(`class index ${String(raw)} is outside serving.json's ${classes.length} classes`);
    return label;
  }
}

function tensorOf(result: Ort.InferenceSession.OnnxValueMapType, name: string): Ort.Tensor {
  const t = result[name];
  if (!t || typeof t !== 'object' || !('data' in t)) throw broken(`output ${name} is missing`);
  return t;
}

const broken = (what: string) => new AegisError('INTERNAL', `${MODEL_FILE} answered something serving.json does not describe: ${what}`);

function argmax(p: Record<string, number>, classes: readonly string[]): string {
  let best = classes[0]!;
  for (const c of classes) if (p[c]! > p[best]!) best = c;
  return best;
}
