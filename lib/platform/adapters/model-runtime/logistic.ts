import * as z from 'zod';
import { AegisError } from '../../../kernel/errors.js';
import { checkRows } from '../../../kernel/model-rows.js';
import { parseJsonStrict } from '../../../kernel/json.js';
import { predictClass, predictProba, standardise, type LogisticModel } from '../../../kernel/logistic.js';
import type { ArtifactFiles, LoadedModel, ModelRuntime, Prediction } from '../../ports/model-runtime.js';

export const LOGREG_FORMAT = 'aegis.logreg/v1';
const MODEL_FILE = 'model.json';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
/** The built-in trainer's `model.json` (`lib/clients/training/builtin-trainer.ts`); extra fields are training notes. */
const ModelFile = z.looseObject({
  format: z.literal(LOGREG_FORMAT),
  activation: z.enum(['sigmoid', 'softmax']),
  classes: z.array(z.string()).min(2),
  features: z.array(z.string().min(1)).min(1),
  standardisation: z.strictObject({ mean: z.array(finite), std: z.array(finite.refine((v) => v !== 0, 'must not be 0')) }),
  weights: z.array(z.array(finite)).min(1),
  bias: z.array(finite).min(1),
});
type ModelFile = z.infer<typeof ModelFile>;

const invalid = (message: string, field: string) => new AegisError('VALIDATION_FAILED', `${MODEL_FILE}: ${message}`, { field });

/** The shapes must agree with each other, or predictions would silently read `undefined`. */
function checkShapes(m: ModelFile): void {
  const d = m.features.length;
  const outputs = m.classes.length === 2 ? 1 : m.classes.length;
  if (m.activation !== (m.classes.length === 2 ? 'sigmoid' : 'softmax'))
    throw invalid(`activation ${m.activation} does not fit ${m.classes.length} classes`, 'model.json.activation');
  if (new Set(m.classes).size !== m.classes.length) throw invalid('classes repeat', 'model.json.classes');
  if (new Set(m.features).size !== d) throw invalid('features repeat', 'model.json.features');
  if (m.standardisation.mean.length !== d || m.standardisation.std.length !== d)
    throw invalid(`standardisation needs ${d} means and stds`, 'model.json.standardisation');
  if (m.weights.length !== outputs || m.weights.some((w) => w.length !== d))
    throw invalid(`weights must be ${outputs} rows of ${d}`, 'model.json.weights');
  if (m.bias.length !== outputs) throw invalid(`bias must have ${outputs} entries`, 'model.json.bias');
}

function parseModelFile(bytes: Uint8Array): ModelFile {
  let raw: unknown;
  try {
    raw = parseJsonStrict(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw invalid(`not valid JSON: ${(e as Error).message}`, 'model.json');
  }
  const parsed = ModelFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') ?? '';
    throw invalid(`${path || 'document'}: ${issue?.message ?? 'invalid'}`, `model.json${path ? `.${path}` : ''}`);
  }
  checkShapes(parsed.data);
  return parsed.data;
}

/** Cheap format sniff: the `format` field, without validating the rest. */
function formatOf(bytes: Uint8Array): unknown {
  try {
    return (JSON.parse(new TextDecoder().decode(bytes)) as { format?: unknown }).format;
  } catch {
    return undefined;
  }
}

class LoadedLogistic implements LoadedModel {
  readonly format = LOGREG_FORMAT;
  readonly features: readonly string[];
  private readonly model: LogisticModel;
  private closed = false;

  constructor(private readonly file: ModelFile) {
    this.features = [...file.features];
    this.model = { classCount: file.classes.length, weights: file.weights, bias: file.bias };
  }

  predict(rows: readonly (readonly number[])[]): Promise<Prediction[]> {
    if (this.closed) return Promise.reject(new AegisError('INTERNAL', 'the model was closed'));
    try {
      checkRows(rows, this.features);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const proba = predictProba(this.model, standardise(rows, this.file.standardisation));
    const classes = this.file.classes;
    return Promise.resolve(
      predictClass(proba).map((k, i) => ({
        label: classes[k] as string,
        probabilities: Object.fromEntries(classes.map((c, j) => [c, (proba[i] as number[])[j] as number])),
      })),
    );
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/**
 * The built-in trainer's logistic regression (`model.json`, format `aegis.logreg/v1`), in pure
 * TypeScript with the trainer's own predict code, so a served prediction equals the trainer's
 * evaluation bit for bit.
 *
 * @example
 * const model = await new LogisticModelRuntime().load(files);
 * await model.predict([[1.5, 20, 3]]); // [{ label: 'yes', probabilities: { no: 0.2, yes: 0.8 } }]
 */
export class LogisticModelRuntime implements ModelRuntime {
  readonly format = LOGREG_FORMAT;

  accepts(files: ArtifactFiles): boolean {
    const bytes = files.get(MODEL_FILE);
    return bytes !== undefined && formatOf(bytes) === LOGREG_FORMAT;
  }

  load(files: ArtifactFiles): Promise<LoadedModel> {
    const bytes = files.get(MODEL_FILE);
    if (!bytes) return Promise.reject(new AegisError('UNSUPPORTED_FORMAT', `no ${MODEL_FILE} in the artifact`, { field: MODEL_FILE }));
    try {
      return Promise.resolve(new LoadedLogistic(parseModelFile(bytes)));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }
}
