/**
 * `serving.json`, the ONNX artifact's description of its graph: which input takes the rows, the
 * feature order, which outputs hold the label, the class probabilities or the value, and the
 * class labels. Read by {@link parseServingJson}, which names the field at fault.
 */
import { z } from 'zod';
import { AegisError } from '../../../kernel/errors.js';
import { JsonInputError, formatJsonPath, parseJsonStrict } from '../../../kernel/json.js';
export const MODEL_FILE = 'model.onnx';
export const SERVING_FILE = 'serving.json';
export const ONNX_FORMAT = 'onnx';

/** A graph input or output name; ONNX allows almost any string, Aegis asks for a sane one. */
const TensorName = z.string().min(1).max(256);
const Label = z.string().min(1).max(256);

const distinct = (what: string) => (xs: readonly string[], ctx: z.RefinementCtx) => {
  const seen = new Set<string>();
  xs.forEach((x, i) => {
    if (seen.has(x)) ctx.addIssue({ code: 'custom', message: `${what} ${JSON.stringify(x)} is listed twice`, path: [i] });
    seen.add(x);
  });
};

/**
 * `serving.json`: how Aegis feeds the graph and reads its answer.
 *
 * - `inputs.name`: the graph input that takes the rows, a float32 tensor `[N, features.length]`
 *   (the graph must have exactly this one input).
 * - `inputs.features`: the feature names in the graph's column order; rows sent as objects are
 *   ordered by it.
 * - `outputs` (at least one): `label`, a tensor `[N]` (or `[N, 1]`) of class indices into
 *   `classes` (int32/int64) or of strings; `probabilities`, a float tensor `[N, classes.length]`
 *   (a label is then the most probable class when `label` is absent); `value`, a float tensor
 *   `[N]` or `[N, 1]` (regressors). Every output must be a plain tensor: convert scikit-learn
 *   classifiers with skl2onnx's `options={id(model): {'zipmap': False}}`, since ZipMap's
 *   sequence-of-maps output cannot be read here.
 * - `classes`: the class labels in index order; required with `probabilities`.
 */
export const ServingJson = z
  .strictObject({
    format: z.literal(ONNX_FORMAT),
    inputs: z.strictObject({
      name: TensorName,
      features: z.array(z.string().min(1).max(256)).min(1).max(10_000).superRefine(distinct('feature')),
    }),
    outputs: z
      .strictObject({ label: TensorName.optional(), probabilities: TensorName.optional(), value: TensorName.optional() })
      .refine((o) => o.label !== undefined || o.probabilities !== undefined || o.value !== undefined, {
        message: 'name at least one of label, probabilities, value',
      }),
    classes: z.array(Label).min(2).max(10_000).superRefine(distinct('class')).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.outputs.probabilities !== undefined && s.classes === undefined)
      ctx.addIssue({ code: 'custom', message: 'required when outputs.probabilities is set', path: ['classes'] });
  });
export type ServingJson = z.infer<typeof ServingJson>;

/** A `VALIDATION_FAILED` naming `serving.json` or one of its fields (`serving.json.inputs.name`). */
export const invalidServing = (path: string, message: string) => {
  const field = path === '' ? SERVING_FILE : `${SERVING_FILE}.${path}`;
  return new AegisError('VALIDATION_FAILED', `${field}: ${message}`, { field });
};

/** Reads and checks `serving.json` against {@link ServingJson}, naming the field at fault. */
export function parseServingJson(bytes: Uint8Array): ServingJson {
  let raw: unknown;
  try {
    raw = parseJsonStrict(new TextDecoder('utf-8', { fatal: true }).decode(bytes), { maxDepth: 16 });
  } catch (e) {
    if (e instanceof JsonInputError) throw invalidServing(formatJsonPath(e.path), e.message);
    throw invalidServing('', 'not UTF-8 text');
  }
  const parsed = ServingJson.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
  const message = issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : issue.message;
  throw invalidServing(formatJsonPath(path.map((p) => (typeof p === 'symbol' ? String(p) : p))), message);
}
