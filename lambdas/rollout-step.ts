import { lambdaContainer } from '../lib/http/lambda-container.js';
import type { StepEvent, StepOutput } from '../lib/services/rollout.js';

/** Every Task state of the promotion and rollback state machines (Step Functions invokes it with the state's Parameters). */
export const handler = async (event: StepEvent): Promise<StepOutput> => (await lambdaContainer()).rollout.step(event);
