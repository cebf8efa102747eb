/**
 * The model runtimes serving loads artifacts with, tried in order (the first whose `accepts`
 * says yes loads). Adding a format is one line here. Lambda functions other than serving's
 * name only {@link builtinModelRuntimes} (its own module: esbuild resolves every import of a
 * module it reaches, even one never called), so that only the serving bundle carries ONNX
 * (onnxruntime-node, a native package shipped trimmed to linux/x64 beside that bundle).
 */
import { OnnxModelRuntime } from '../adapters/model-runtime/onnx.js';
import type { ModelRuntime } from '../ports/model-runtime.js';
import { builtinModelRuntimes } from './builtin-runtimes.js';

/** Every served format: the built-in ones and ONNX (the local server, the serving Lambda). */
export const modelRuntimes = (): ModelRuntime[] => [...builtinModelRuntimes(), new OnnxModelRuntime()];
