import { LogisticModelRuntime } from '../adapters/model-runtime/logistic.js';
import type { ModelRuntime } from '../ports/model-runtime.js';

/**
 * The formats that need no package (the built-in logistic regression): what Lambda functions
 * other than serving's load with (they build a serving service all the same, and never serve).
 */
export const builtinModelRuntimes = (): ModelRuntime[] => [new LogisticModelRuntime()];
