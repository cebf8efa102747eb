import { CfnOutput, type Stack } from 'aws-cdk-lib';
import { CONSOLE_REQUEST_HEADERS } from './console-cors.js';
import { ConsoleHosting } from './console-hosting.js';
import type { AegisRestApi } from './rest-api.js';

/** What {@link addConsole} wires the console to. */
export interface ConsoleWiring {
  readonly envName: string;
  readonly projectRoot: string;
  readonly restApi: AegisRestApi;
}

/**
 * The console's nested stack, wired into its parent: the API allows the console's origin on
 * the gateway's own errors and is deployed after the preflight methods exist (and again when
 * the set of paths changes); the parent outputs the console's URL, bucket and pools.
 */
export function addConsole(stack: Stack, w: ConsoleWiring): ConsoleHosting {
  const hosting = new ConsoleHosting(stack, 'Console', {
    envName: w.envName,
    projectRoot: w.projectRoot,
    api: w.restApi.api,
    stageName: w.restApi.stageName,
    description: `Aegis web console (${w.envName}): S3, CloudFront, Cognito`,
  });
  w.restApi.allowOrigin(hosting.origin);
  const deployment = w.restApi.api.latestDeployment;
  if (deployment) {
    deployment.node.addDependency(hosting);
    deployment.addToLogicalId({ consolePreflights: [...hosting.cors.preflights.keys()], headers: CONSOLE_REQUEST_HEADERS });
  }
  new CfnOutput(stack, 'ConsoleUrl', {
    value: `${hosting.origin}/`,
    description: hosting.filesDeployed
      ? 'The web console (sign in with a user of the Cognito user pool UserPoolId)'
      : `The web console: no build was found at synth time, so only config.json is deployed; run npm run build, then cdk deploy`,
  });
  new CfnOutput(stack, 'ConsoleBucketName', {
    value: hosting.bucket.bucketName,
    description: 'The console files (private; read by CloudFront only)',
  });
  new CfnOutput(stack, 'UserPoolId', {
    value: hosting.identity.userPool.userPoolId,
    description: 'Console users: add each to the group named after its Aegis role',
  });
  new CfnOutput(stack, 'IdentityPoolId', { value: hosting.identity.identityPool.identityPoolId });
  return hosting;
}
