import { Duration } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { RouteAccess } from './access.js';
import type { AegisFunction } from './aegis-function.js';
import { driftPolicyBundle } from './policies-bundle.js';
import { StepWorkflow, type StepWorkflowProps } from './step-workflow.js';

/**
 * What the drift-step function may touch beyond the database: it reads the serving artifact's
 * bytes for its drift baseline (`baseline.json` inside the artifact, checked against the
 * manifest), counts serving's input segments (`serving-inputs/`, read only), keeps a run's plan
 * and shard counts (`drift-runs/`) and stores reports (`drift-reports/`) in the drift bucket; it
 * signs retrain suggestions with the manifest key and appends drift.* events signed with the
 * audit key. It starts no execution.
 */
export const DRIFT_STEP_ACCESS = {
  artifacts: 'read',
  driftStore: { inputs: 'read', runs: 'write', reports: 'write' },
  signManifests: true,
  signAuditEvents: true,
} as const satisfies RouteAccess;

/**
 * The drift routes (`lib/platform/http/routes/drift.ts`): runs, reports and suggestions are
 * database rows, except a report's body, which the report route reads back from the drift
 * bucket (`drift-reports/` only); accepting or dismissing a suggestion appends a signed audit
 * event; requesting a run reads policies/drift.json and starts the drift state machine.
 */
export const DRIFT_ROUTE_ACCESS = {
  driftRunGet: {},
  driftReportsList: {},
  driftReportGet: { driftStore: { reports: 'read' } },
  driftSuggestionsList: {},
  driftSuggestionGet: {},
  driftSuggestionAccept: { signAuditEvents: true },
  driftSuggestionDismiss: { signAuditEvents: true },
  driftRunRequest: { startDriftRuns: true },
} as const satisfies Record<string, RouteAccess>;

/** The placeholder every Task `Resource` of `drift.asl.json` uses for the drift-step function. */
export const DRIFT_STEP_PLACEHOLDER = 'DriftStepArn';

/**
 * {@link StepWorkflowProps}: `entry` defaults to 'lambdas/drift-step.ts'; the folder holds
 * `drift.asl.json`; `stepTimeout` defaults to 10 minutes (CountShard: 600 s, one shard's segments
 * counted; Plan and Report are cut sooner). The resources are granted as {@link DRIFT_STEP_ACCESS} says (it needs `driftBucket`).
 */
export interface DriftWorkflowProps extends StepWorkflowProps {
  /** @default 1769 (one full vCPU: counting segments is CPU bound) */
  readonly stepMemoryMb?: number;
}

/**
 * Drift runs on AWS: the Standard state machine of `statemachines/drift.asl.json` (Plan → an
 * inline Map counting each shard → Report; RecordFailure), the same file the local runner
 * executes, whose every Task invokes the one drift-step function. A {@link StepWorkflow}, built
 * like the rollout machines: its own log group encrypted with the data key, X-Ray, and a role
 * that may invoke the drift-step function and nothing else. The functions that
 * start runs (the `drift-schedule` job, the `POST /v1/drift/runs` function) are granted
 * StartExecution on it elsewhere (`RouteAccess.startDriftRuns`): the machine depends on the
 * drift step only, never on them.
 *
 * @example
 * const drift = new DriftWorkflow(this, 'Drift', { projectRoot, environment, resources });
 * drift.stateMachine.stateMachineArn;
 */
export class DriftWorkflow extends StepWorkflow {
  constructor(scope: Construct, id: string, props: DriftWorkflowProps) {
    super(scope, id, props, {
      name: 'drift',
      logicalId: 'DriftStateMachine',
      stepId: 'driftStep',
      placeholder: DRIFT_STEP_PLACEHOLDER,
      keyPolicySid: 'DriftExecutionLogs',
      access: DRIFT_STEP_ACCESS,
      step: {
        entry: 'lambdas/drift-step.ts',
        description:
          'Drift step: every Task of the drift state machine (plan the shards of a window, count a shard, report and suggest, record a failure)',
        // policies/drift.json: each deployment's window, shards and detectors
        ...driftPolicyBundle(props.environment),
        timeout: Duration.minutes(10),
        memorySize: props.stepMemoryMb ?? 1769,
      },
    });
  }

  /** The drift-step function ({@link StepWorkflow.step}). */
  get driftStep(): AegisFunction {
    return this.step;
  }
}
