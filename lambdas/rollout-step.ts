import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { traceStep } from '../lib/platform/tracing/steps.js';
import type { StepEvent, StepOutput } from '../lib/modules/rollout/service.js';

/** Every Task state of the promotion and rollback state machines (Step Functions invokes it with the state's Parameters). */
export const handler = traceStep(async (event: StepEvent): Promise<StepOutput> => (await lambdaContainer()).rollout.step(event));
