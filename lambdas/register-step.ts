import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { traceStep } from '../lib/platform/tracing/steps.js';
import type { RegisterStepEvent } from '../lib/modules/registry/service.js';

/**
 * Every Task state of the register state machine (Hash, Commit, RecordFailure): Step Functions
 * invokes it with the state's Parameters (`task` names the step). Needs the registry database,
 * the artifact bucket (the object read; manifest and signature sidecars written, retention set)
 * and the manifest and audit signing keys (the commit signs as the register route does).
 */
export const handler = traceStep(async (event: RegisterStepEvent): Promise<unknown> =>
  (await lambdaContainer()).registry.registrationStep(event),
);
