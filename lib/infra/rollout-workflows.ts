import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledge } from './acknowledge.js';
import { grantAccess, type AccessResources, type RolloutStateMachines, type RouteAccess } from './access.js';
import { AegisFunction } from './aegis-function.js';
import { pin } from './pin.js';

/**
 * What the rollout-step function may touch beyond the database: it signs the final promotion
 * record with the manifest key and appends promotion.step / applied / rolled_back events
 * signed with the audit key. It never reads artifacts.
 */
export const ROLLOUT_STEP_ACCESS = { signManifests: true, signAuditEvents: true } as const satisfies RouteAccess;

/** The placeholder every Task `Resource` of the ASL files uses for the rollout-step function. */
export const ROLLOUT_STEP_PLACEHOLDER = 'RolloutStepArn';

/** The two machines, by the name of their ASL file (`statemachines/<name>.asl.json`) and their pinned logical id. */
const MACHINES = [
  ['promotion', 'PromotionStateMachine'],
  ['rollback', 'RollbackStateMachine'],
] as const satisfies readonly (readonly [keyof RolloutStateMachines, string])[];

export interface RolloutWorkflowsProps {
  /** Absolute path of the repository root (holds `lambdas/`, `package-lock.json` and `statemachines/`). */
  readonly projectRoot: string;
  /** Environment shared by every function (configuration read by `lib/platform/config.ts`). */
  readonly environment: Readonly<Record<string, string>>;
  /** What the rollout-step function is granted on ({@link ROLLOUT_STEP_ACCESS}); `dataKey` also encrypts the execution logs. */
  readonly resources: AccessResources;
  /**
   * The rollout-step handler, relative to `projectRoot`; it exports `handler`.
   *
   * @default 'lambdas/rollout-step.ts'
   */
  readonly entry?: string;
  /**
   * Folder of `promotion.asl.json` and `rollback.asl.json`, relative to `projectRoot`.
   *
   * @default 'statemachines'
   */
  readonly definitionsDir?: string;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The rollout-step function's timeout: as long as the longest Task (WarmUp: 300 s, a
   * blue-green warm-up loading green and answering its warm-up requests); every other Task is
   * cut at 90 s by its TimeoutSeconds. @default Duration.minutes(5)
   */
  readonly stepTimeout?: Duration;
}

/**
 * The rollout of a promotion on AWS: two Standard state machines built from the repo's ASL
 * files (the same files the local runner executes), whose every Task invokes one rollout-step
 * function. Each machine logs ALL events with execution data to its own log group encrypted
 * with the data key, traces with X-Ray, and has a role that may invoke the rollout-step
 * function and nothing else.
 *
 * @example
 * const workflows = new RolloutWorkflows(this, 'Rollouts', { projectRoot, environment, resources });
 * workflows.stateMachines.promotion.stateMachineArn;
 */
export class RolloutWorkflows extends Construct {
  public readonly rolloutStep: AegisFunction;
  public readonly stateMachines: RolloutStateMachines & { readonly promotion: sfn.StateMachine; readonly rollback: sfn.StateMachine };
  public readonly logGroups: Readonly<Record<keyof RolloutStateMachines, logs.LogGroup>>;

  constructor(scope: Construct, id: string, props: RolloutWorkflowsProps) {
    super(scope, id);
    const definitionsDir = props.definitionsDir ?? 'statemachines';
    if (isAbsolute(definitionsDir)) throw new Error('definitionsDir must be relative to projectRoot');

    this.rolloutStep = new AegisFunction(this, 'rolloutStep', {
      entry: props.entry ?? 'lambdas/rollout-step.ts',
      projectRoot: props.projectRoot,
      description:
        'Rollout step: every Task of the promotion and rollback state machines (start, evaluate, step up, warm up, promote, roll back)',
      environment: props.environment,
      timeout: props.stepTimeout ?? Duration.minutes(5),
    });
    grantAccess(this.rolloutStep, ROLLOUT_STEP_ACCESS, props.resources);

    const stack = Stack.of(this);
    const logGroupNames = Object.fromEntries(
      MACHINES.map(([name]) => [name, `/aws/vendedlogs/states/${stack.stackName}-${name}`]),
    ) as Record<keyof RolloutStateMachines, string>;
    // CloudWatch Logs encrypts with the data key for these two log groups only. Names are fixed
    // so the key policy can name the groups without depending on them (no cycle).
    props.resources.dataKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'RolloutExecutionLogs',
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnEquals: {
            'kms:EncryptionContext:aws:logs:arn': MACHINES.map(([name]) =>
              stack.formatArn({
                service: 'logs',
                resource: 'log-group',
                resourceName: logGroupNames[name],
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              }),
            ),
          },
        },
      }),
    );

    const logGroups = {} as Record<keyof RolloutStateMachines, logs.LogGroup>;
    const machines = {} as Record<keyof RolloutStateMachines, sfn.StateMachine>;
    for (const [name, logicalId] of MACHINES) {
      const file = join(props.projectRoot, definitionsDir, `${name}.asl.json`);
      const definition = readFileSync(file, 'utf8');
      checkDefinition(file, definition);

      const logGroup = new logs.LogGroup(this, `${logicalId}Logs`, {
        logGroupName: logGroupNames[name],
        encryptionKey: props.resources.dataKey,
        retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      pin(logGroup, `${logicalId}Logs`);

      const machine = new sfn.StateMachine(this, logicalId, {
        stateMachineType: sfn.StateMachineType.STANDARD,
        // Inline (not an S3 asset), so the template shows the definition.
        definitionBody: sfn.DefinitionBody.fromString(definition),
        definitionSubstitutions: { [ROLLOUT_STEP_PLACEHOLDER]: this.rolloutStep.function.functionArn },
        logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
        tracingEnabled: true,
      });
      pin(machine, logicalId);
      // The unqualified function ARN the Tasks name; no versions, no other function.
      machine.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.rolloutStep.function.functionArn] }),
      );
      acknowledge(machine, {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Step Functions needs the CloudWatch Logs delivery actions (logs:CreateLogDelivery and friends) and X-Ray trace writes, none of which support resource-level permissions.',
      });
      logGroups[name] = logGroup;
      machines[name] = machine;
    }
    this.logGroups = logGroups;
    this.stateMachines = machines;
  }
}

/**
 * Refuses an ASL file the deployed machine would run differently from the local runner:
 * JSONata (ignored locally), or a Task that calls anything but the rollout-step function.
 */
function checkDefinition(file: string, text: string): void {
  let asl: StateGroup;
  try {
    asl = JSON.parse(text) as StateGroup;
  } catch (e) {
    throw new Error(`${file} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  if (Object.keys(asl.States ?? {}).length === 0) throw new Error(`${file} has no States`);
  checkStates(file, asl);
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

function checkStates(file: string, group: StateGroup): void {
  if (group.QueryLanguage !== undefined && group.QueryLanguage !== 'JSONPath')
    throw new Error(`${file}: QueryLanguage must be JSONPath (the local runner ignores JSONata)`);
  for (const [name, state] of Object.entries(group.States ?? {})) {
    if (state.QueryLanguage !== undefined && state.QueryLanguage !== 'JSONPath')
      throw new Error(`${file}: state ${name} uses QueryLanguage ${String(state.QueryLanguage)}; only JSONPath runs locally`);
    if (state.Type === 'Task' && state.Resource !== `\${${ROLLOUT_STEP_PLACEHOLDER}}`) {
      throw new Error(`${file}: Task ${name} must invoke \${${ROLLOUT_STEP_PLACEHOLDER}} (the state machine role may invoke nothing else)`);
    }
    for (const nested of [...(state.Branches ?? []), state.ItemProcessor, state.Iterator]) if (nested) checkStates(file, nested);
  }
}
