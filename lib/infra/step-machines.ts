import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { acknowledge } from './acknowledge.js';
import { pin } from './pin.js';

/** One machine: its ASL file (`<definitionsDir>/<name>.asl.json`) and its pinned logical id (its log group is `<logicalId>Logs`). */
export interface StepMachineSpec<N extends string> {
  readonly name: N;
  readonly logicalId: string;
}

export interface StepMachinesProps<N extends string> {
  /** Absolute path of the repository root. */
  readonly projectRoot: string;
  /** Folder of the ASL files, relative to `projectRoot`. */
  readonly definitionsDir: string;
  readonly machines: readonly StepMachineSpec<N>[];
  /** The one function every Task invokes, and the `${placeholder}` its ARN substitutes in the ASL. */
  readonly step: lambda.IFunction;
  readonly placeholder: string;
  /** Encrypts the execution log groups; its key policy lets CloudWatch Logs use it for these groups only. */
  readonly dataKey: kms.IKey;
  /** The key policy statement's sid (one per group of machines). */
  readonly keyPolicySid: string;
  readonly logRetention: logs.RetentionDays;
}

/** What {@link buildStepMachines} made, by machine name. */
export interface StepMachines<N extends string> {
  readonly stateMachines: Readonly<Record<N, sfn.StateMachine>>;
  readonly logGroups: Readonly<Record<N, logs.LogGroup>>;
}

/**
 * Standard state machines built from the repo's ASL files (the same files the local runner
 * executes), each Task invoking one step function: the definition checked and kept inline (the
 * template shows it), ALL events with execution data logged to the machine's own log group
 * encrypted with the data key, X-Ray tracing, and a role that may invoke the step function and
 * nothing else. Logical ids are pinned. Used by the rollout workflows and every `StepWorkflow` alike.
 *
 * @example
 * const { stateMachines } = buildStepMachines(this, { projectRoot, definitionsDir: 'statemachines', machines: [{ name: 'drift', logicalId: 'DriftStateMachine' }], step: fn.function, placeholder: 'DriftStepArn', dataKey, keyPolicySid: 'DriftExecutionLogs', logRetention: logs.RetentionDays.ONE_YEAR });
 */
export function buildStepMachines<N extends string>(scope: Construct, props: StepMachinesProps<N>): StepMachines<N> {
  if (isAbsolute(props.definitionsDir)) throw new Error('definitionsDir must be relative to projectRoot');
  const stack = Stack.of(scope);
  const logGroupName = (name: N) => `/aws/vendedlogs/states/${stack.stackName}-${name}`;
  // Names are fixed so the key policy can name the groups without depending on them (no cycle).
  props.dataKey.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: props.keyPolicySid,
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnEquals: {
          'kms:EncryptionContext:aws:logs:arn': props.machines.map(({ name }) =>
            stack.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: logGroupName(name),
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ),
        },
      },
    }),
  );

  const logGroups = {} as Record<N, logs.LogGroup>;
  const stateMachines = {} as Record<N, sfn.StateMachine>;
  for (const { name, logicalId } of props.machines) {
    const file = join(props.projectRoot, props.definitionsDir, `${name}.asl.json`);
    const definition = readFileSync(file, 'utf8');
    checkDefinition(file, definition, props.placeholder);

    const logGroup = new logs.LogGroup(scope, `${logicalId}Logs`, {
      logGroupName: logGroupName(name),
      encryptionKey: props.dataKey,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    pin(logGroup, `${logicalId}Logs`);

    const machine = new sfn.StateMachine(scope, logicalId, {
      stateMachineType: sfn.StateMachineType.STANDARD,
      // Inline (not an S3 asset), so the template shows the definition.
      definitionBody: sfn.DefinitionBody.fromString(definition),
      definitionSubstitutions: { [props.placeholder]: props.step.functionArn },
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    pin(machine, logicalId);
    // The unqualified function ARN the Tasks name; no versions, no other function.
    machine.addToRolePolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [props.step.functionArn] }));
    acknowledge(machine, {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions needs the CloudWatch Logs delivery actions (logs:CreateLogDelivery and friends) and X-Ray trace writes, none of which support resource-level permissions.',
    });
    logGroups[name] = logGroup;
    stateMachines[name] = machine;
  }
  return { stateMachines, logGroups };
}

/**
 * Refuses an ASL file the deployed machine would run differently from the local runner:
 * JSONata (ignored locally), or a Task that calls anything but `${placeholder}` (the one
 * function the machine's role may invoke).
 */
function checkDefinition(file: string, text: string, placeholder: string): void {
  let asl: StateGroup;
  try {
    asl = JSON.parse(text) as StateGroup;
  } catch (e) {
    throw new Error(`${file} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  if (Object.keys(asl.States ?? {}).length === 0) throw new Error(`${file} has no States`);
  checkStates(file, asl, placeholder);
}

type StateGroup = { QueryLanguage?: unknown; States?: Record<string, AslState> };
type AslState = {
  Type?: unknown;
  Resource?: unknown;
  QueryLanguage?: unknown;
  Branches?: StateGroup[];
  ItemProcessor?: StateGroup;
  Iterator?: StateGroup;
};

function checkStates(file: string, group: StateGroup, placeholder: string): void {
  if (group.QueryLanguage !== undefined && group.QueryLanguage !== 'JSONPath')
    throw new Error(`${file}: QueryLanguage must be JSONPath (the local runner ignores JSONata)`);
  for (const [name, state] of Object.entries(group.States ?? {})) {
    if (state.QueryLanguage !== undefined && state.QueryLanguage !== 'JSONPath')
      throw new Error(`${file}: state ${name} uses QueryLanguage ${String(state.QueryLanguage)}; only JSONPath runs locally`);
    if (state.Type === 'Task' && state.Resource !== `\${${placeholder}}`) {
      throw new Error(`${file}: Task ${name} must invoke \${${placeholder}} (the state machine role may invoke nothing else)`);
    }
    for (const nested of [...(state.Branches ?? []), state.ItemProcessor, state.Iterator])
      if (nested) checkStates(file, nested, placeholder);
  }
}
