import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { grantAccess, type RolloutStateMachines, type RouteAccess } from './access.js';
import { AegisFunction } from './aegis-function.js';
import { buildStepMachines, type StepMachineSpec } from './step-machines.js';
import type { StepWorkflowProps } from './step-workflow.js';

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
  { name: 'promotion', logicalId: 'PromotionStateMachine' },
  { name: 'rollback', logicalId: 'RollbackStateMachine' },
] as const satisfies readonly StepMachineSpec<keyof RolloutStateMachines>[];

/** {@link StepWorkflowProps}: `entry` defaults to 'lambdas/rollout-step.ts'; the folder holds `promotion.asl.json` and `rollback.asl.json`; `stepTimeout` defaults to 5 minutes (WarmUp: 300 s, a blue-green warm-up loading green and answering its warm-up requests; every other Task is cut at 90 s). The resources are granted as {@link ROLLOUT_STEP_ACCESS} says. */
export type RolloutWorkflowsProps = StepWorkflowProps;

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
    this.rolloutStep = new AegisFunction(this, 'rolloutStep', {
      entry: props.entry ?? 'lambdas/rollout-step.ts',
      projectRoot: props.projectRoot,
      description:
        'Rollout step: every Task of the promotion and rollback state machines (start, evaluate, step up, warm up, promote, roll back)',
      environment: props.environment,
      timeout: props.stepTimeout ?? Duration.minutes(5),
    });
    grantAccess(this.rolloutStep, ROLLOUT_STEP_ACCESS, props.resources);

    const built = buildStepMachines(this, {
      projectRoot: props.projectRoot,
      definitionsDir: props.definitionsDir ?? 'statemachines',
      machines: MACHINES,
      step: this.rolloutStep.function,
      placeholder: ROLLOUT_STEP_PLACEHOLDER,
      dataKey: props.resources.dataKey,
      keyPolicySid: 'RolloutExecutionLogs',
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
    });
    this.logGroups = built.logGroups;
    this.stateMachines = built.stateMachines;
  }
}
