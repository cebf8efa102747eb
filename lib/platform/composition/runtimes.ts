/**
 * The model runtimes serving loads artifacts with, tried in order (the first whose `accepts`
 * says yes loads). Adding a format is one line here.
 */
import { LogisticModelRuntime } from '../adapters/model-runtime/logistic.js';
import { OnnxModelRuntime } from '../adapters/model-runtime/onnx.js';
import type { ModelRuntime } from '../ports/model-runtime.js';

export const modelRuntimes = (): ModelRuntime[] => [new LogisticModelRuntime(), new OnnxModelRuntime()];
