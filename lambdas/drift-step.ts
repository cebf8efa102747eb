import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { traceStep } from '../lib/platform/tracing/steps.js';
import type { DriftStepEvent } from '../lib/modules/drift/records.js';
import type { DriftStepResult } from '../lib/modules/drift/runs.js';

/**
 * Every Task state of the drift state machine (Plan, CountShard, Report, RecordFailure): Step
 * Functions invokes it with the state's Parameters (`task` names the step). Needs the registry
 * database, the artifact bucket (the baseline), DRIFT_S3_BUCKET (segments read; plans, shard
 * counts and reports written), the manifest key (a suggestion's signature) and the drift
 * configuration (`AEGIS_DRIFT_POLICY` or `<AEGIS_POLICIES_DIR>/drift.json`).
 */
export const handler = traceStep(async (event: DriftStepEvent): Promise<DriftStepResult> =>
  (await lambdaContainer()).driftRuns.step(event),
);
