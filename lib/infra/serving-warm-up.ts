import * as iam from 'aws-cdk-lib/aws-iam';
import type { AegisFunction } from './aegis-function.js';

/**
 * Blue-green warm-ups on AWS: the rollout-step function invokes the serving function with the
 * internal warm-up event (LambdaWarmer). It gets `AEGIS_SERVING_FUNCTION_NAME` = the ARN of what
 * callers invoke (the `live` alias when concurrency is provisioned, so the warm-up reaches a
 * provisioned environment; else the function) and `lambda:InvokeFunction` on that ARN exactly
 * (not `grantInvoke`, which adds every version and alias: `<arn>:*`, a wildcard cdk-nag flags).
 * No cycle: the serving function references neither the state machines nor the rollout step.
 *
 * @example
 * grantServingWarmUp(apiFunctions.functions.servingPredict, rollouts.rolloutStep);
 */
export function grantServingWarmUp(serving: AegisFunction, rolloutStep: AegisFunction): void {
  const target = serving.invokeTarget;
  rolloutStep.function.addEnvironment('AEGIS_SERVING_FUNCTION_NAME', target.functionArn);
  rolloutStep.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [target.functionArn] }));
}
