import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import './promise-with-resolvers.js';
import { StateMachine } from 'aws-local-stepfunctions';
import type { MachineName, WorkflowInput, Workflows } from '../../ports/workflows.js';

type StateDef = { Type: string; ItemProcessor?: Definition; Iterator?: Definition };
type Definition = { States: Record<string, StateDef> };

/** Every state, with those of Map states' processors (their Task names share one namespace with the top level). */
function allStates(def: Definition): [string, StateDef][] {
  return Object.entries(def.States).flatMap(([name, s]) => {
    const inner = s.ItemProcessor ?? s.Iterator;
    return [[name, s] as [string, StateDef], ...(inner ? allStates(inner) : [])];
  });
}
type Step = (input: Record<string, unknown>) => Promise<unknown>;
type Overrides = {
  taskResourceLocalHandlers: Record<string, (i: unknown) => Promise<never>>;
  waitTimeOverrides: Record<string, number>;
  retryIntervalOverrides: Record<string, number>;
};
/** A machine parsed and validated once, with the overrides every execution of it runs with. */
type Built = { machine: StateMachine; overrides: Overrides };

/** How an execution ended: `failed` names the error it failed with (a Fail state's `Error`, e.g. `DriftRunFailed`). */
export type ExecutionOutcome = { status: 'succeeded' } | { status: 'failed'; error: string };
const MAX_OUTCOMES = 1000;

export interface LocalWorkflowsOptions {
  /** folder holding `<machine>.asl.json` */
  definitionsDir: string;
  /** the rollout-step function every Task state runs (the Lambda's handler on AWS) */
  step: Step;
  /** tests only: every Wait lasts this many ms instead of its window */
  waitMs?: number;
  onError?: (name: string, error: unknown) => void;
  /** gives up the rollout lease an execution holds (graceful stop: another server may take over at once) */
  release?: (promotionId: string, runner: string) => Promise<void>;
  /** names this process's executions (`<instance>/<uuid>`): the runner ids its leases carry */
  instance?: string;
  /**
   * Builds (validates) a parsed definition; tests count the builds through it.
   * @default {@link buildValidatedOnce}: asl-validator runs once per definition text and process
   */
  build?: (definition: object, text: string) => StateMachine;
}

/** The definition texts this process has validated (asl-validator compiles its JSON schema on every call: 0.1–0.4 s of blocked event loop). */
const validTexts = new Set<string>();

/**
 * The machine of `definition` (parsed from `text`), validated by asl-validator the first time
 * this process builds that text and trusted after that: a text that validated once is valid
 * again. An invalid text is never remembered, so every build of it throws the validator's error.
 */
export function buildValidatedOnce(definition: object, text: string, validate = (d: object) => new StateMachine(d as never)): StateMachine {
  if (validTexts.has(text)) return new StateMachine(definition as never, { validationOptions: { noValidate: true } });
  const machine = validate(definition);
  validTexts.add(text);
  return machine;
}

/**
 * Runs the same ASL files as Step Functions, in-process, with every Task state mapped to the
 * same step function (overrides are keyed by state name). One execution per name at a time.
 */
export class LocalWorkflows implements Workflows {
  readonly #running = new Map<string, Promise<unknown>>();
  readonly #aborts = new Map<string, () => void>();
  /** name → [promotion id, runner id] of the executions running here */
  readonly #runners = new Map<string, [string, string]>();
  readonly #instance: string;
  /** each machine built once: an execution never changes it (and its text is validated once per process) */
  readonly #built = new Map<MachineName, Built>();
  /** how the last executions ended, by name (the newest {@link MAX_OUTCOMES}): a failed one with its Fail state's error */
  readonly #outcomes = new Map<string, ExecutionOutcome>();

  constructor(private readonly opts: LocalWorkflowsOptions) {
    this.#instance = opts.instance ?? `local-${randomUUID()}`;
  }

  /** The machine, read and validated on first use (an invalid one throws then, and again on every start). */
  #machine(machine: MachineName): Built {
    let built = this.#built.get(machine);
    if (!built) {
      // The Lambda ARNs are CDK substitutions; any well-formed ARN will do, every Task is overridden.
      const text = readFileSync(join(this.opts.definitionsDir, `${machine}.asl.json`), 'utf8').replaceAll(
        /\$\{(RolloutStepArn|DriftStepArn|RegisterStepArn)\}/g,
        'arn:aws:lambda:us-east-1:000000000000:function:aegis-step',
      );
      const def = JSON.parse(text) as Definition;
      const sm = (this.opts.build ?? buildValidatedOnce)(def, text);
      built = { machine: sm, overrides: this.#overrides(def) };
      this.#built.set(machine, built);
    }
    return built;
  }

  /** Every Task state runs the step (retried after 10 ms); every Wait lasts `waitMs` when set. */
  #overrides(def: Definition): Overrides {
    const tasks: Overrides['taskResourceLocalHandlers'] = {};
    const waits: Record<string, number> = {};
    for (const [state, s] of allStates(def)) {
      if (s.Type === 'Task') tasks[state] = (i) => this.opts.step(i as Record<string, unknown>) as Promise<never>;
      if (s.Type === 'Wait' && this.opts.waitMs !== undefined) waits[state] = this.opts.waitMs;
    }
    const retries = Object.fromEntries(Object.keys(tasks).map((t) => [t, 10]));
    return { taskResourceLocalHandlers: tasks, waitTimeOverrides: waits, retryIntervalOverrides: retries };
  }

  async start(machine: MachineName, name: string, input: WorkflowInput): Promise<{ executionId: string; started: boolean }> {
    const executionId = `local:${machine}:${name}`;
    if (this.#running.has(name)) return { executionId, started: false };
    const { machine: sm, overrides } = this.#machine(machine);
    // Each execution is its own runner, as each Step Functions execution is: the tasks pass
    // `$$.Execution.Id` as the runner that must hold the rollout's lease.
    const runner = `${this.#instance}/${randomUUID()}`;
    const exec = sm.run(
      input as never,
      {
        overrides,
        context: { Execution: { Id: runner, Name: name } },
        noThrowOnAbort: true,
      } as never,
    );
    const done = exec.result
      .then(() => this.#ended(name, { status: 'succeeded' }))
      .catch((e: unknown) => {
        const failure = ((e as Error | undefined)?.cause ?? e) as Error | undefined;
        this.#ended(name, { status: 'failed', error: String(failure?.name ?? failure) });
        // A Fail state (RolledBack, RollbackFailed) ends the execution as an error whose cause
        // names the state's Error; the step already recorded it (or tried to, and it alarms on AWS).
        if (!(
          e instanceof Error &&
          /^(RolledBack|RollbackFailed|DriftRunFailed|RegistrationFailed)$/.test(String((e.cause as Error | undefined)?.name))
        ))
          this.opts.onError?.(name, e);
      })
      .finally(() => {
        this.#running.delete(name);
        this.#aborts.delete(name);
        this.#runners.delete(name);
      });
    this.#running.set(name, done);
    this.#aborts.set(name, exec.abort);
    if ('promotionId' in input) this.#runners.set(name, [input.promotionId, runner]);
    return { executionId, started: true };
  }

  #ended(name: string, outcome: ExecutionOutcome): void {
    this.#outcomes.delete(name);
    this.#outcomes.set(name, outcome);
    if (this.#outcomes.size > MAX_OUTCOMES) this.#outcomes.delete(this.#outcomes.keys().next().value!);
  }

  /** How the named execution ended (undefined: running, never run here, or long forgotten). */
  outcome(name: string): ExecutionOutcome | undefined {
    return this.#running.has(name) ? undefined : this.#outcomes.get(name);
  }

  /** Resolves when the named execution has ended (immediately when none runs). */
  async settled(name: string): Promise<void> {
    await this.#running.get(name);
  }

  isRunning(name: string): boolean {
    return this.#running.has(name);
  }

  /**
   * Stops every execution (server shutdown) and gives up their rollout leases: their persisted
   * state lets a restart, or another server on the same database, resume them at once.
   */
  async stopAll(): Promise<void> {
    const held = [...this.#runners.values()];
    for (const abort of this.#aborts.values()) abort();
    await Promise.allSettled([...this.#running.values()]);
    const release = this.opts.release;
    if (release) await Promise.allSettled(held.map(([promotionId, runner]) => release(promotionId, runner)));
  }
}
