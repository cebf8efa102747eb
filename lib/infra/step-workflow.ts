import type { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { grantAccess, type AccessResources, type RouteAccess } from './access.js';
import { AegisFunction, type AegisFunctionProps } from './aegis-function.js';
import { buildStepMachines } from './step-machines.js';

/** What a construct of step-function-driven state machines takes (RolloutWorkflows, DriftWorkflow, RegisterWorkflow). */
export interface StepWorkflowProps {
  /** Absolute path of the repository root (holds `lambdas/`, `package-lock.json`, `policies/` and `statemachines/`). */
  readonly projectRoot: string;
  /** Environment shared by every function (configuration read by `lib/platform/config.ts`). */
  readonly environment: Readonly<Record<string, string>>;
  /** What the step function is granted on; `dataKey` also encrypts the execution logs. */
  readonly resources: AccessResources;
  /** The step function's handler, relative to `projectRoot`; it exports `handler`. */
  readonly entry?: string;
  /**
   * Folder of the machines' ASL files, relative to `projectRoot`.
   *
   * @default 'statemachines'
   */
  readonly definitionsDir?: string;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** The step function's timeout: as long as the longest Task of its machines. */
  readonly stepTimeout?: Duration;
}

/** What sets one step workflow apart from another; its names are in logical ids, so they never change. */
export interface StepWorkflowSpec {
  /** The machine's ASL file (`<definitionsDir>/<name>.asl.json`), and the end of its log group's name. */
  readonly name: string;
  /** The machine's pinned logical id (its log group's is `<logicalId>Logs`). */
  readonly logicalId: string;
  /** The step function's construct id, which its (unpinned) logical ids derive from. */
  readonly stepId: string;
  /** What every Task `Resource` of the ASL file names: `${placeholder}`. */
  readonly placeholder: string;
  /** The sid of the data key's policy statement letting CloudWatch Logs encrypt the machine's log group. */
  readonly keyPolicySid: string;
  /** What the step function is granted on {@link StepWorkflowProps.resources}, beyond the database. */
  readonly access: RouteAccess;
  /**
   * The step function. `entry` and `timeout` are defaults that {@link StepWorkflowProps.entry}
   * and {@link StepWorkflowProps.stepTimeout} override; `environment` defaults to {@link StepWorkflowProps.environment}.
   */
  readonly step: Omit<AegisFunctionProps, 'projectRoot'>;
}

/**
 * One Standard state machine whose every Task invokes one step function, built the same way for
 * every such workflow: the function (granted {@link StepWorkflowSpec.access}), the machine and
 * its encrypted log group ({@link buildStepMachines}). Subclasses name what differs (the ASL
 * file, the function's entry, memory, timeout and environment, what it is granted) and add
 * what only they have (an alarm). The machine depends on the step function only, never on the
 * functions that start it.
 *
 * @example
 * class DriftWorkflow extends StepWorkflow {
 *   constructor(scope: Construct, id: string, props: StepWorkflowProps) {
 *     super(scope, id, props, { name: 'drift', logicalId: 'DriftStateMachine', stepId: 'driftStep', placeholder: 'DriftStepArn', keyPolicySid: 'DriftExecutionLogs', access: DRIFT_STEP_ACCESS, step: { entry: 'lambdas/drift-step.ts', description } });
 *   }
 * }
 */
export class StepWorkflow extends Construct {
  /** The function every Task of {@link stateMachine} invokes. */
  public readonly step: AegisFunction;
  public readonly stateMachine: sfn.StateMachine;
  /** The machine's execution log (`/aws/vendedlogs/states/<stack>-<name>`), encrypted with the data key. */
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: StepWorkflowProps, spec: StepWorkflowSpec) {
    super(scope, id);
    this.step = new AegisFunction(this, spec.stepId, {
      environment: props.environment,
      ...spec.step,
      entry: props.entry ?? spec.step.entry,
      projectRoot: props.projectRoot,
      timeout: props.stepTimeout ?? spec.step.timeout,
    });
    grantAccess(this.step, spec.access, props.resources);
    const built = buildStepMachines(this, {
      projectRoot: props.projectRoot,
      definitionsDir: props.definitionsDir ?? 'statemachines',
      machines: [{ name: spec.name, logicalId: spec.logicalId }],
      step: this.step.function,
      placeholder: spec.placeholder,
      dataKey: props.resources.dataKey,
      keyPolicySid: spec.keyPolicySid,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
    });
    this.stateMachine = built.stateMachines[spec.name]!;
    this.logGroup = built.logGroups[spec.name]!;
  }
}
