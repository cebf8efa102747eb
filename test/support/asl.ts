/**
 * The state machines of `statemachines/*.asl.json` as the unit suites read them, and
 * asl-validator (a CommonJS package) to check them with.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** asl-validator on a definition: whether it is valid, and why not. */
export const aslValidator = createRequire(import.meta.url)('asl-validator') as (d: unknown) => { isValid: boolean; errors: unknown[] };

/** The fields of a state the suites assert on. */
export interface AslState {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  TimeoutSeconds?: number;
  Retry?: { ErrorEquals: string[]; MaxAttempts?: number; IntervalSeconds?: number; BackoffRate?: number }[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
  Next?: string;
  Default?: string;
  Choices?: { Next: string }[];
  Error?: string;
}

export interface AslMachine {
  StartAt: string;
  States: Record<string, AslState>;
  QueryLanguage?: string;
}

/**
 * `statemachines/<name>.asl.json`, parsed afresh (a suite may edit its copy).
 *
 * @example
 * const def = loadMachine('register');
 * expect(aslValidator(def).errors).toEqual([]);
 */
export const loadMachine = (name: string): AslMachine => JSON.parse(readFileSync(`statemachines/${name}.asl.json`, 'utf8')) as AslMachine;
