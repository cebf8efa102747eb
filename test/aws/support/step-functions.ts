import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import '../../../lib/platform/adapters/workflows/promise-with-resolvers.js';
import { StateMachine } from 'aws-local-stepfunctions';
import { generatedPhysicalName, resourceOf, resourcesOfType, type CfnTemplate } from './template.js';

/**
 * A Step Functions endpoint for the AWS SDK (awsJson1_0: `POST /` with
 * `X-Amz-Target: AWSStepFunctions.<Operation>`), running the state machines of a synthesized
 * template with aws-local-stepfunctions. Every Task state is overridden to call
 * `invokeLambda(<function logical id>, payload)`; nothing ever reaches real AWS.
 *
 * Operations: StartExecution, DescribeExecution, ListExecutions, GetExecutionHistory,
 * StopExecution, DescribeStateMachine, ListStateMachines. Requests are not signature-checked.
 */

/**
 * What a Lambda function error looks like to Step Functions. `invokeLambda` may reject with one
 * of these (the runner's view of a function error: `errorType` / `errorMessage` / `trace`); any
 * other `Error` counts as a function error whose `errorType` is its `name` (what the Node
 * runtime reports for a thrown error), and a rejection that is not an Error is `Lambda.Unknown`.
 * Errors named `Lambda.*` (e.g. `Lambda.ServiceException`, `Lambda.TooManyRequestsException`)
 * are service errors and surface with that name and their message as the cause.
 */
export class LambdaFunctionError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
    readonly trace: string[] = [],
  ) {
    super(`${errorType}: ${errorMessage}`);
    this.name = 'LambdaFunctionError';
  }
}

export interface StepFunctionsOptions {
  template: CfnTemplate;
  /** Resolves an intrinsic of the template to a string: a function's `Fn::GetAtt [Fn, Arn]`, the `Fn::Join` of a definition, substitutions. */
  resolve: (intrinsic: unknown) => string;
  invokeLambda: (functionLogicalId: string, payload: unknown) => Promise<unknown>;
  region: string;
  accountId: string;
  /**
   * How long Wait states last, in ms, instead of their `Seconds` / `SecondsPath` / timestamps:
   * one number for every Wait state (0 skips them), or per state name (states not named wait
   * as the ASL says). @default the ASL's own durations
   */
  waitTimeScale?: number | Record<string, number>;
  /**
   * How long a Retry waits before the next attempt, in ms, instead of `IntervalSeconds` ×
   * `BackoffRate`ⁿ: one number for every state, or per state name (a number, or one per
   * retrier). @default the ASL's own intervals
   */
  retryIntervalMs?: number | Record<string, number | number[]>;
  /** Where the endpoint reports executions it had to fail itself and its own errors. @default console.error */
  log?: (line: string) => void;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface TaskRecord {
  /** the Task state's name */
  state: string;
  functionLogicalId: string;
  /** `direct` (Resource is the function ARN) or `lambda:invoke` (the optimised integration) */
  integration: 'direct' | 'lambda:invoke';
  payload: unknown;
  result?: unknown;
  error?: { error: string; cause: string };
  startedAt: Date;
  endedAt?: Date;
}

export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: Date;
  type: string;
  [details: string]: unknown;
}

export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  stateMachineLogicalId: string;
  name: string;
  status: ExecutionStatus;
  /** the input as given (JSON text) */
  input: string;
  /** the output (JSON text) when SUCCEEDED */
  output?: string;
  error?: string;
  cause?: string;
  startDate: Date;
  stopDate?: Date;
  /** every Lambda invocation, in order (retries included) */
  tasks: TaskRecord[];
  history: HistoryEvent[];
}

export interface RunningStepFunctions {
  /** `http://127.0.0.1:<port>`: the SFNClient `endpoint` */
  endpoint: string;
  /** logical id → the ARN executions are started with */
  stateMachineArns: Record<string, string>;
  executions(): ExecutionRecord[];
  /** Resolves when the execution has ended (SUCCEEDED, FAILED, TIMED_OUT or ABORTED). */
  waitFor(executionArn: string): Promise<ExecutionRecord>;
  stop(): Promise<void>;
}

/**
 * The ARN of a state machine of the template: its `StateMachineName` when set (a literal, or an
 * intrinsic resolved with `resolve`), else the name CloudFormation would generate, made
 * deterministic ({@link generatedPhysicalName}). A resolver answers `Ref` of a state machine
 * with this, so the functions' environment names the machines this emulator runs.
 */
export function stateMachineArnFor(
  logicalId: string,
  template: CfnTemplate,
  region: string,
  accountId: string,
  resolve?: (intrinsic: unknown) => string,
): string {
  const sm = resourceOf(template, logicalId, 'AWS::StepFunctions::StateMachine');
  const given = sm.Properties?.StateMachineName;
  let name: string;
  if (given === undefined) name = generatedPhysicalName(logicalId);
  else if (typeof given === 'string') name = given;
  else if (resolve) name = resolve(given);
  else throw new Error(`${logicalId}: StateMachineName is an intrinsic (${JSON.stringify(given)}); pass resolve`);
  return `arn:aws:states:${region}:${accountId}:stateMachine:${name}`;
}

// ---------------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type AslState = {
  Type: string;
  Resource?: unknown;
  Branches?: AslGroup[];
  ItemProcessor?: AslGroup;
  Iterator?: AslGroup;
  [k: string]: unknown;
};
type AslGroup = { StartAt: string; States: Record<string, AslState> };

interface TaskTarget {
  integration: 'direct' | 'lambda:invoke';
  /** direct: the function; lambda:invoke: decided per call from FunctionName */
  functionLogicalId?: string;
  resource: string;
  /** why this Task cannot run here */
  unsupported?: string;
}

interface Machine {
  logicalId: string;
  arn: string;
  name: string;
  definitionText: string;
  definition: AslGroup;
  sm: StateMachine;
  tasks: Map<string, TaskTarget>;
  waits: string[];
  retryable: string[];
  roleArn: string;
  createdAt: Date;
}

/** Thrown from a Task override: `name` is the ASL error, `message` the cause; optionally neither retried nor caught. */
class StatesError extends Error {
  isRetryable?: boolean;
  isCatchable?: boolean;
  constructor(name: string, cause: string, final = false) {
    super(cause);
    this.name = name;
    if (final) {
      this.isRetryable = false;
      this.isCatchable = false;
    }
  }
}

class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function walkStates(group: AslGroup, visit: (name: string, state: AslState) => void): void {
  for (const [name, state] of Object.entries(group.States ?? {})) {
    visit(name, state);
    for (const nested of [...(state.Branches ?? []), state.ItemProcessor, state.Iterator]) if (nested) walkStates(nested, visit);
  }
}

const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:([A-Za-z0-9_-]+)(?::[A-Za-z0-9$_-]+)?$/;

function toLambdaError(e: unknown): StatesError {
  if (e instanceof LambdaFunctionError)
    return new StatesError(e.errorType, JSON.stringify({ errorMessage: e.errorMessage, errorType: e.errorType, trace: e.trace }));
  if (e instanceof Error) {
    if (e.name.startsWith('Lambda.') || e.name.startsWith('States.')) return new StatesError(e.name, e.message);
    return new StatesError(
      e.name || 'Error',
      JSON.stringify({ errorMessage: e.message, errorType: e.name || 'Error', trace: (e.stack ?? '').split('\n') }),
    );
  }
  return new StatesError(
    'Lambda.Unknown',
    `The cause could not be determined because Lambda did not return an error type. Returned payload: ${JSON.stringify(e ?? null)}`,
  );
}

/** Starts the endpoint on 127.0.0.1 (a free port) with every state machine of the template. */
export async function startStepFunctions(opts: StepFunctionsOptions): Promise<RunningStepFunctions> {
  const log = opts.log ?? ((line: string) => console.error(line));
  // Functions of the template by resolved ARN and by name.
  const functionByArn = new Map<string, string>();
  const functionByName = new Map<string, string>();
  const unresolvable: string[] = [];
  for (const [id] of resourcesOfType(opts.template, 'AWS::Lambda::Function')) {
    let arn: string;
    try {
      arn = opts.resolve({ 'Fn::GetAtt': [id, 'Arn'] });
    } catch (e) {
      unresolvable.push(`${id} (${(e as Error).message})`);
      continue;
    }
    functionByArn.set(arn, id);
    const m = LAMBDA_ARN.exec(arn);
    if (m) functionByName.set(m[1]!, id);
  }
  const functionFor = (ref: string): string | undefined => {
    if (functionByArn.has(ref)) return functionByArn.get(ref);
    const m = LAMBDA_ARN.exec(ref);
    if (m) return functionByArn.get(ref.split(':').slice(0, 7).join(':')) ?? functionByName.get(m[1]!);
    return functionByName.get(ref);
  };
  const describeUnknown = (ref: string) =>
    `${ref} is not a function of the template (known: ${[...functionByArn.keys()].join(', ') || 'none'}${unresolvable.length ? `; unresolvable: ${unresolvable.join(', ')}` : ''})`;

  // The state machines.
  const machines = new Map<string, Machine>();
  for (const [logicalId, res] of resourcesOfType(opts.template, 'AWS::StepFunctions::StateMachine')) {
    const p = res.Properties ?? {};
    const arn = stateMachineArnFor(logicalId, opts.template, opts.region, opts.accountId, opts.resolve);
    let text: string;
    if (typeof p.DefinitionString === 'string') text = p.DefinitionString;
    else if (p.DefinitionString !== undefined) text = opts.resolve(p.DefinitionString);
    else if (p.Definition !== undefined) text = JSON.stringify(p.Definition);
    else throw new Error(`${logicalId}: the definition is not inline (DefinitionS3Location is not emulated)`);
    for (const [key, value] of Object.entries((p.DefinitionSubstitutions ?? {}) as Record<string, unknown>)) {
      const v = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : opts.resolve(value);
      text = text.replaceAll(`\${${key}}`, v);
    }
    let definition: AslGroup;
    try {
      definition = JSON.parse(text) as AslGroup;
    } catch (e) {
      throw new Error(`${logicalId}: the resolved definition is not JSON: ${(e as Error).message}`, { cause: e });
    }
    if ((definition as { QueryLanguage?: unknown }).QueryLanguage === 'JSONata')
      throw new Error(`${logicalId}: JSONata is ignored by aws-local-stepfunctions; only JSONPath machines are emulated`);
    const tasks = new Map<string, TaskTarget>();
    const waits: string[] = [];
    const retryable: string[] = [];
    walkStates(definition, (name, state) => {
      if ((state as { QueryLanguage?: unknown }).QueryLanguage === 'JSONata')
        throw new Error(`${logicalId}: state ${name} uses JSONata, which aws-local-stepfunctions ignores`);
      if (state.Type === 'Wait') waits.push(name);
      if (Array.isArray(state.Retry)) retryable.push(name);
      if (state.Type !== 'Task') return;
      const resource = String(state.Resource);
      let target: TaskTarget;
      if (resource === 'arn:aws:states:::lambda:invoke' || /^arn:aws[a-z-]*:states:::lambda:invoke$/.test(resource))
        target = { integration: 'lambda:invoke', resource };
      else if (/:states:::lambda:invoke\.waitForTaskToken$/.test(resource))
        target = {
          integration: 'lambda:invoke',
          resource,
          unsupported: `${resource}: .waitForTaskToken does not pause in aws-local-stepfunctions`,
        };
      else if (LAMBDA_ARN.test(resource)) {
        const fn = functionFor(resource);
        target = fn
          ? { integration: 'direct', functionLogicalId: fn, resource }
          : { integration: 'direct', resource, unsupported: describeUnknown(resource) };
      } else
        target = {
          integration: 'direct',
          resource,
          unsupported: `${resource} is not a Lambda function or arn:aws:states:::lambda:invoke (only Lambda tasks are emulated)`,
        };
      const prior = tasks.get(name);
      if (prior && (prior.resource !== target.resource || prior.functionLogicalId !== target.functionLogicalId)) {
        throw new Error(
          `${logicalId}: two Task states are named ${name} with different resources; aws-local-stepfunctions keys overrides by state name`,
        );
      }
      tasks.set(name, target);
    });
    let sm: StateMachine;
    try {
      sm = new StateMachine(definition as never, { validationOptions: { checkArn: true, checkPaths: true } });
    } catch (e) {
      throw new Error(`${logicalId}: ${(e as Error).message}`, { cause: e });
    }
    let roleArn: string;
    try {
      roleArn = p.RoleArn === undefined ? '' : typeof p.RoleArn === 'string' ? p.RoleArn : opts.resolve(p.RoleArn);
    } catch {
      roleArn = `arn:aws:iam::${opts.accountId}:role/${logicalId}Role`;
    }
    const name = arn.slice(arn.lastIndexOf(':') + 1);
    machines.set(arn, {
      logicalId,
      arn,
      name,
      definitionText: text,
      definition,
      sm,
      tasks,
      waits,
      retryable,
      roleArn,
      createdAt: new Date(),
    });
  }

  const records = new Map<string, ExecutionRecord>();
  const settled = new Map<string, Promise<ExecutionRecord>>();
  const aborts = new Map<string, () => void>();

  const overridesFor = (machine: Machine, record: ExecutionRecord) => {
    const handlers: Record<string, (input: Json) => Promise<Json>> = {};
    for (const [state, target] of machine.tasks) {
      handlers[state] = async (input: Json): Promise<Json> => {
        if (target.unsupported)
          throw new StatesError('Emulator.UnsupportedTask', `Task ${state} of ${machine.logicalId}: ${target.unsupported}`, true);
        let fn = target.functionLogicalId;
        let payload: unknown = input;
        if (target.integration === 'lambda:invoke') {
          const params = (input ?? {}) as Record<string, unknown>;
          const ref = typeof params.FunctionName === 'string' ? params.FunctionName : '';
          fn = functionFor(ref);
          if (!fn)
            throw new StatesError(
              'Emulator.UnsupportedTask',
              `Task ${state} of ${machine.logicalId}: FunctionName ${describeUnknown(ref || '(missing)')}`,
              true,
            );
          payload = 'Payload' in params ? params.Payload : {};
        }
        const task: TaskRecord = { state, functionLogicalId: fn!, integration: target.integration, payload, startedAt: new Date() };
        record.tasks.push(task);
        let result: unknown;
        try {
          result = await opts.invokeLambda(fn!, structuredClone(payload));
        } catch (e) {
          const err = toLambdaError(e);
          task.error = { error: err.name, cause: err.message };
          task.endedAt = new Date();
          throw err;
        }
        task.endedAt = new Date();
        // What Lambda returns is JSON: undefined becomes null, Dates strings, and so on.
        const json = (result === undefined ? null : JSON.parse(JSON.stringify(result))) as Json;
        task.result = json;
        if (target.integration === 'direct') return json;
        const requestId = randomUUID();
        return {
          ExecutedVersion: '$LATEST',
          Payload: json,
          SdkHttpMetadata: {
            AllHttpHeaders: {
              'X-Amz-Executed-Version': ['$LATEST'],
              'x-amzn-Remapped-Content-Length': ['0'],
              Connection: ['keep-alive'],
              'x-amzn-RequestId': [requestId],
              'Content-Type': ['application/json'],
            },
            HttpHeaders: {
              Connection: 'keep-alive',
              'Content-Type': 'application/json',
              'X-Amz-Executed-Version': '$LATEST',
              'x-amzn-Remapped-Content-Length': '0',
              'x-amzn-RequestId': requestId,
            },
            HttpStatusCode: 200,
          },
          SdkResponseMetadata: { RequestId: requestId },
          StatusCode: 200,
        };
      };
    }
    const waitTimeOverrides: Record<string, number> = {};
    const w = opts.waitTimeScale;
    if (typeof w === 'number') for (const s of machine.waits) waitTimeOverrides[s] = w;
    else if (w) Object.assign(waitTimeOverrides, w);
    const retryIntervalOverrides: Record<string, number | number[]> = {};
    const r = opts.retryIntervalMs;
    if (typeof r === 'number') for (const s of machine.retryable) retryIntervalOverrides[s] = r;
    else if (r) Object.assign(retryIntervalOverrides, r);
    return { taskResourceLocalHandlers: handlers, waitTimeOverrides, retryIntervalOverrides };
  };

  const pushHistory = (record: ExecutionRecord, type: string, details: Record<string, unknown>, at = Date.now()) => {
    const id = record.history.length + 1;
    record.history.push({ id, previousEventId: id - 1, timestamp: new Date(at), type, ...details });
  };

  const startExecution = (machine: Machine, name: string, inputText: string): ExecutionRecord => {
    const input = JSON.parse(inputText) as Json;
    const executionArn = `arn:aws:states:${opts.region}:${opts.accountId}:execution:${machine.name}:${name}`;
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: machine.arn,
      stateMachineLogicalId: machine.logicalId,
      name,
      status: 'RUNNING',
      input: inputText,
      startDate: new Date(),
      tasks: [],
      history: [],
    };
    records.set(executionArn, record);
    const exec = machine.sm.run(input, {
      overrides: overridesFor(machine, record),
      context: {
        Execution: { Id: executionArn, Name: name, RoleArn: machine.roleArn },
        StateMachine: { Id: machine.arn, Name: machine.name },
      } as never,
    });
    aborts.set(executionArn, exec.abort);
    // History, from the runner's event log.
    const taskKind = (state: string) => machine.tasks.get(state)?.integration;
    void (async () => {
      for await (const ev of exec.eventLogs) {
        const e = ev as {
          type: string;
          timestamp: number;
          input?: Json;
          output?: Json;
          Error?: string;
          Cause?: unknown;
          state?: { name: string; type: string; input: Json; output?: Json };
          index?: number;
          parentState?: { name: string };
        };
        const cause = typeof e.Cause === 'string' ? e.Cause : e.Cause === undefined ? undefined : JSON.stringify(e.Cause);
        switch (e.type) {
          case 'ExecutionStarted':
            pushHistory(
              record,
              'ExecutionStarted',
              { executionStartedEventDetails: { input: inputText, inputDetails: { truncated: false }, roleArn: machine.roleArn } },
              e.timestamp,
            );
            break;
          case 'StateEntered':
            pushHistory(
              record,
              `${e.state!.type}StateEntered`,
              {
                stateEnteredEventDetails: {
                  name: e.state!.name,
                  input: JSON.stringify(e.state!.input),
                  inputDetails: { truncated: false },
                },
              },
              e.timestamp,
            );
            break;
          case 'StateExited':
            pushHistory(
              record,
              `${e.state!.type}StateExited`,
              {
                stateExitedEventDetails: {
                  name: e.state!.name,
                  output: JSON.stringify(e.state!.output ?? null),
                  outputDetails: { truncated: false },
                },
              },
              e.timestamp,
            );
            break;
          case 'StateFailed':
            if (e.state!.type === 'Task') {
              if (taskKind(e.state!.name) === 'direct')
                pushHistory(record, 'LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: { error: e.Error, cause } }, e.timestamp);
              else
                pushHistory(
                  record,
                  'TaskFailed',
                  { taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke', error: e.Error, cause } },
                  e.timestamp,
                );
            }
            break;
          case 'MapIterationStarted':
          case 'MapIterationSucceeded':
          case 'MapIterationFailed':
            pushHistory(record, e.type, { mapIterationStartedEventDetails: { name: e.parentState?.name, index: e.index } }, e.timestamp);
            break;
          case 'ExecutionSucceeded':
            pushHistory(
              record,
              'ExecutionSucceeded',
              { executionSucceededEventDetails: { output: JSON.stringify(e.output ?? null), outputDetails: { truncated: false } } },
              e.timestamp,
            );
            break;
          case 'ExecutionFailed':
            pushHistory(record, 'ExecutionFailed', { executionFailedEventDetails: { error: e.Error, cause } }, e.timestamp);
            break;
          case 'ExecutionAborted':
            pushHistory(record, 'ExecutionAborted', { executionAbortedEventDetails: {} }, e.timestamp);
            break;
          case 'ExecutionTimeout':
            pushHistory(record, 'ExecutionTimedOut', { executionTimedOutEventDetails: {} }, e.timestamp);
            break;
          default:
            break; // retries and catches have no event of their own in Step Functions
        }
      }
    })();
    const done = exec.result.then(
      (output) => {
        if (record.status === 'RUNNING') {
          record.status = 'SUCCEEDED';
          record.output = JSON.stringify(output ?? null);
        }
      },
      (e: unknown) => {
        if (record.status !== 'RUNNING') return;
        const err = e as Error & { cause?: Error & { cause?: unknown } };
        if (err.name === 'ExecutionAbortedError') record.status = 'ABORTED';
        else if (err.name === 'ExecutionTimeoutError') {
          record.status = 'TIMED_OUT';
          record.error = 'States.Timeout';
        } else {
          record.status = 'FAILED';
          const inner = err.cause instanceof Error ? err.cause : err;
          record.error = inner.name;
          const c = (inner as { cause?: unknown }).cause;
          record.cause = typeof c === 'string' ? c : inner.message;
          if (record.error === 'Emulator.UnsupportedTask') log(`[step-functions] ${executionArn} failed: ${record.cause}`);
        }
      },
    );
    settled.set(
      executionArn,
      done.then(() => {
        record.stopDate ??= new Date();
        aborts.delete(executionArn);
        return record;
      }),
    );
    return record;
  };

  const epoch = (d: Date | undefined) => (d ? d.getTime() / 1000 : undefined);
  const machineOf = (arn: unknown): Machine => {
    if (typeof arn !== 'string' || !arn.startsWith('arn:')) throw new ApiError('InvalidArn', `Invalid Arn: '${String(arn)}'`);
    const m = machines.get(arn);
    if (!m) throw new ApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return m;
  };
  const executionOf = (arn: unknown): ExecutionRecord => {
    if (typeof arn !== 'string' || !arn.startsWith('arn:')) throw new ApiError('InvalidArn', `Invalid Arn: '${String(arn)}'`);
    const r = records.get(arn);
    if (!r) throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return r;
  };
  const page = <T>(items: T[], body: Record<string, unknown>, max: number) => {
    const start = typeof body.nextToken === 'string' ? Number(body.nextToken) : 0;
    if (!Number.isInteger(start) || start < 0) throw new ApiError('InvalidToken', `Invalid Token: '${String(body.nextToken)}'`);
    const size = typeof body.maxResults === 'number' && body.maxResults > 0 ? Math.min(body.maxResults, 1000) : max;
    const slice = items.slice(start, start + size);
    return { slice, nextToken: start + size < items.length ? String(start + size) : undefined };
  };

  // Step Functions refuses whitespace, these punctuation marks and control characters in names
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
  const INVALID_NAME_CHARACTER = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;
  const operations: Record<string, (body: Record<string, unknown>) => unknown> = {
    StartExecution(body) {
      const machine = machineOf(body.stateMachineArn);
      const name = body.name === undefined ? randomUUID() : body.name;
      if (typeof name !== 'string' || name.length < 1 || name.length > 80 || INVALID_NAME_CHARACTER.test(name))
        throw new ApiError('InvalidName', `Invalid Name: '${String(name)}'`);
      const inputText = body.input === undefined ? '{}' : body.input;
      if (typeof inputText !== 'string')
        throw new ApiError('InvalidExecutionInput', 'Invalid State Machine Execution Input: input must be a string');
      try {
        JSON.parse(inputText);
      } catch (e) {
        throw new ApiError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${(e as Error).message}'`);
      }
      const executionArn = `arn:aws:states:${opts.region}:${opts.accountId}:execution:${machine.name}:${name}`;
      const existing = records.get(executionArn);
      if (existing) {
        // Standard workflows: the same name and input while it runs is idempotent; anything else is refused.
        if (existing.status === 'RUNNING' && existing.input === inputText) return { executionArn, startDate: epoch(existing.startDate) };
        throw new ApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
      }
      const record = startExecution(machine, name, inputText);
      return { executionArn, startDate: epoch(record.startDate) };
    },
    DescribeExecution(body) {
      const r = executionOf(body.executionArn);
      return {
        executionArn: r.executionArn,
        stateMachineArn: r.stateMachineArn,
        name: r.name,
        status: r.status,
        startDate: epoch(r.startDate),
        ...(r.stopDate && { stopDate: epoch(r.stopDate) }),
        input: r.input,
        inputDetails: { included: true },
        ...(r.output !== undefined && { output: r.output, outputDetails: { included: true } }),
        ...(r.error !== undefined && { error: r.error }),
        ...(r.cause !== undefined && { cause: r.cause }),
        redriveCount: 0,
        redriveStatus: 'NOT_REDRIVABLE',
      };
    },
    ListExecutions(body) {
      const machine = machineOf(body.stateMachineArn);
      const all = [...records.values()]
        .filter((r) => r.stateMachineArn === machine.arn && (body.statusFilter === undefined || r.status === body.statusFilter))
        .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
      const { slice, nextToken } = page(all, body, 100);
      return {
        executions: slice.map((r) => ({
          executionArn: r.executionArn,
          stateMachineArn: r.stateMachineArn,
          name: r.name,
          status: r.status,
          startDate: epoch(r.startDate),
          ...(r.stopDate && { stopDate: epoch(r.stopDate) }),
        })),
        ...(nextToken && { nextToken }),
      };
    },
    GetExecutionHistory(body) {
      const r = executionOf(body.executionArn);
      const events = body.reverseOrder === true ? [...r.history].reverse() : r.history;
      const { slice, nextToken } = page(events, body, 100);
      return { events: slice.map((e) => ({ ...e, timestamp: epoch(e.timestamp) })), ...(nextToken && { nextToken }) };
    },
    StopExecution(body) {
      const r = executionOf(body.executionArn);
      if (r.status === 'RUNNING') {
        r.status = 'ABORTED';
        if (typeof body.error === 'string') r.error = body.error;
        if (typeof body.cause === 'string') r.cause = body.cause;
        r.stopDate = new Date();
        aborts.get(r.executionArn)?.();
      }
      return { stopDate: epoch(r.stopDate) };
    },
    DescribeStateMachine(body) {
      const m = machineOf(body.stateMachineArn);
      return {
        stateMachineArn: m.arn,
        name: m.name,
        status: 'ACTIVE',
        definition: m.definitionText,
        roleArn: m.roleArn,
        type: 'STANDARD',
        creationDate: epoch(m.createdAt),
      };
    },
    ListStateMachines(body) {
      const { slice, nextToken } = page([...machines.values()], body, 100);
      return {
        stateMachines: slice.map((m) => ({ stateMachineArn: m.arn, name: m.name, type: 'STANDARD', creationDate: epoch(m.createdAt) })),
        ...(nextToken && { nextToken }),
      };
    },
  };

  const reply = (res: ServerResponse, status: number, body: unknown, errorType?: string) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': randomUUID(),
      ...(errorType && { 'x-amzn-errortype': errorType }),
    });
    res.end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = /^AWSStepFunctions\.(\w+)$/.exec(target)?.[1];
    if (req.method !== 'POST' || !op || !(op in operations)) {
      reply(
        res,
        400,
        { __type: 'com.amazon.coral.service#UnknownOperationException', message: `Operation ${target || '(none)'} is not emulated` },
        'UnknownOperationException',
      );
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      reply(
        res,
        400,
        { __type: 'com.amazon.coral.service#SerializationException', message: 'the body is not JSON' },
        'SerializationException',
      );
      return;
    }
    try {
      reply(res, 200, operations[op]!(body));
    } catch (e) {
      if (e instanceof ApiError) reply(res, 400, { __type: `com.amazonaws.swf.service.v2.model#${e.code}`, message: e.message }, e.code);
      else {
        log(`[step-functions] emulator error: ${(e as Error)?.stack ?? String(e)}`);
        reply(res, 500, { __type: 'com.amazon.coral.service#InternalFailure', message: (e as Error).message }, 'InternalFailure');
      }
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) reply(res, 500, { __type: 'InternalFailure', message: (e as Error).message }, 'InternalFailure');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stateMachineArns: Object.fromEntries([...machines.values()].map((m) => [m.logicalId, m.arn])),
    executions: () => [...records.values()],
    waitFor: (executionArn) => {
      const p = settled.get(executionArn);
      return p ?? Promise.reject(new Error(`no execution ${executionArn}`));
    },
    stop: async () => {
      for (const abort of aborts.values()) abort();
      await Promise.allSettled([...settled.values()]);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
