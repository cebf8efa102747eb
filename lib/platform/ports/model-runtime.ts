/**
 * The model runtime port: loads a verified, unpacked artifact and answers predictions.
 * Adapters: `adapters/model-runtime/logistic.ts` (the built-in trainer's `model.json`, pure
 * TS) and `adapters/model-runtime/onnx.ts` (`model.onnx` + `serving.json`). Contract suite:
 * `test/contracts/model-runtime.test.ts`. Pickles are never loaded.
 */

/** An unpacked artifact: path inside the archive (POSIX, no leading `./`) → bytes. */
export type ArtifactFiles = ReadonlyMap<string, Uint8Array>;

/** One row's answer. */
export interface Prediction {
  /** the predicted class label (classifiers) */
  label?: string;
  /** per-class probabilities keyed by class label (classifiers) */
  probabilities?: Record<string, number>;
  /** the predicted value (regressors) */
  value?: number;
}

/** A model ready to answer: one per artifact per process. */
export interface LoadedModel {
  /** the runtime's format id, e.g. `aegis.logreg/v1`, `onnx` */
  readonly format: string;
  /** input feature names in training column order: rows given as objects are ordered by it */
  readonly features: readonly string[];
  /** predictions for a batch of numeric rows (each `features.length` long), in row order */
  predict(rows: readonly (readonly number[])[]): Promise<Prediction[]>;
  /** releases native resources; the model answers nothing after */
  close(): Promise<void>;
}

/** One artifact format. Serving tries each runtime's `accepts` and loads with the first that does. */
export interface ModelRuntime {
  readonly format: string;
  /** true when the files are in this runtime's format (decided cheaply: file names, a format field) */
  accepts(files: ArtifactFiles): boolean;
  /** loads; throws AegisError (VALIDATION_FAILED or UNSUPPORTED_FORMAT) naming the file at fault */
  load(files: ArtifactFiles): Promise<LoadedModel>;
}
