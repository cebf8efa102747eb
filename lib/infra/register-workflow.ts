import { CfnOutput, Duration } from 'aws-cdk-lib';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { RouteAccess } from './access.js';
import type { AegisFunction } from './aegis-function.js';
import { StepWorkflow, type StepWorkflowProps } from './step-workflow.js';
import type { RolloutWorkflows } from './rollout-workflows.js';
import type { DriftWorkflow } from './drift-workflow.js';

/**
 * What the register-step function may touch beyond the database: Hash reads the uploaded
 * object; Commit is the register route's own commit, so it needs what that commit needs on the
 * artifact bucket (the manifest and signature sidecars put, retention set, the pending tag
 * cleared; no delete, no multipart upload: the route completed it) and signs the manifest and
 * the audit events. Nothing of the audit archive or the drift bucket, and it starts no execution.
 */
export const REGISTER_STEP_ACCESS = { artifacts: 'commit', signManifests: true, signAuditEvents: true } as const satisfies RouteAccess;

/** The placeholder every Task `Resource` of `register.asl.json` uses for the register-step function. */
export const REGISTER_STEP_PLACEHOLDER = 'RegisterStepArn';

/**
 * {@link StepWorkflowProps}: `entry` defaults to 'lambdas/register-step.ts'; `stepTimeout` to 15
 * minutes (Lambda's most: Hash reads the whole object in one invocation).
 */
export interface RegisterWorkflowProps extends StepWorkflowProps {
  /** @default 1769 (one full vCPU: hashing is CPU bound, and memory buys S3 read throughput) */
  readonly stepMemoryMb?: number;
}

/**
 * Asynchronous registration on AWS (issue 25): the Standard state machine of
 * `statemachines/register.asl.json` (Hash → Commit; RecordFailure), the same file the local
 * runner executes, whose every Task invokes the one register-step function, built like the drift
 * machine ({@link StepWorkflow}). The register route's function is granted StartExecution on
 * it (`RouteAccess.startRegistrations`): the machine depends on the step only, never on the route.
 *
 * @example
 * const register = new RegisterWorkflow(this, 'Register', { projectRoot, environment, resources });
 * register.monitor(monitoring);
 */
export class RegisterWorkflow extends StepWorkflow {
  constructor(scope: Construct, id: string, props: RegisterWorkflowProps) {
    super(scope, id, props, {
      name: 'register',
      logicalId: 'RegisterStateMachine',
      stepId: 'registerStep',
      placeholder: REGISTER_STEP_PLACEHOLDER,
      keyPolicySid: 'RegisterExecutionLogs',
      access: REGISTER_STEP_ACCESS,
      step: {
        entry: 'lambdas/register-step.ts',
        description: 'Register step: every Task of the register state machine (hash a large upload, commit its record, record a failure)',
        timeout: Duration.minutes(15),
        memorySize: props.stepMemoryMb ?? 1769,
      },
    });
  }

  /** The register-step function ({@link StepWorkflow.step}). */
  get registerStep(): AegisFunction {
    return this.step;
  }

  /**
   * One alarm (notifying the stack's topic) when registrations end failed or timed out: each is a
   * registration that did not register (its error is on it: GET /v1/registry/registrations/{id}).
   */
  monitor(monitoring: { readonly topic: sns.ITopic }): cloudwatch.Alarm {
    const period = Duration.minutes(5);
    const machine = this.stateMachine;
    const alarm = new cloudwatch.MathExpression({
      expression: 'failed + timedOut',
      label: 'register executions failed or timed out',
      period,
      usingMetrics: {
        failed: machine.metricFailed({ period, statistic: cloudwatch.Stats.SUM }),
        timedOut: machine.metricTimedOut({ period, statistic: cloudwatch.Stats.SUM }),
      },
    }).createAlarm(this, 'RegisterExecutionsFailed', {
      alarmDescription:
        'The register state machine had failed or timed-out executions (5 min): a large artifact did not register (a sha256 mismatch, an expired upload, or a step that kept failing); its error is on the registration (GET /v1/registry/registrations/{registrationId}) and in the execution log',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new actions.SnsAction(monitoring.topic));
    return alarm;
  }
}

/** The stack's outputs naming its state machines. */
export function workflowOutputs(
  scope: Construct,
  w: { rollouts: RolloutWorkflows; drift: DriftWorkflow; registration: RegisterWorkflow },
): void {
  new CfnOutput(scope, 'PromotionStateMachineArn', {
    value: w.rollouts.stateMachines.promotion.stateMachineArn,
    description: 'Promotion rollouts (canary stages, then full promotion)',
  });
  new CfnOutput(scope, 'RollbackStateMachineArn', {
    value: w.rollouts.stateMachines.rollback.stateMachineArn,
    description: 'Manual rollbacks to a named earlier artifact',
  });
  new CfnOutput(scope, 'DriftStateMachineArn', {
    value: w.drift.stateMachine.stateMachineArn,
    description:
      'Drift runs (plan shards, count them, report and suggest a retrain), started by the drift schedule and POST /v1/drift/runs',
  });
  new CfnOutput(scope, 'RegisterStateMachineArn', {
    value: w.registration.stateMachine.stateMachineArn,
    description: 'Asynchronous registrations of large artifacts (hash, then commit), started by POST /v1/registry/register',
  });
}
