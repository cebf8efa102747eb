import { CfnResource, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Pins the logical id of a construct's CloudFormation resource, so moving the construct in
 * the tree never makes CloudFormation replace a stateful resource (a bucket, a key, the
 * database).
 *
 * @example
 * pin(bucket, 'ArtifactBucket');
 */
export function pin(construct: IConstruct, logicalId: string): void {
  const cfn = construct.node.defaultChild;
  if (!cfn || !CfnResource.isCfnResource(cfn)) throw new Error(`${construct.node.path} has no CloudFormation resource to pin`);
  cfn.overrideLogicalId(logicalId);
}

/**
 * The logical id of a construct's CloudFormation resource, as cdk-nag prints it in findings
 * (`Resource::<LogicalId.Arn>/*`).
 */
export function logicalIdOf(construct: IConstruct): string {
  const cfn = construct.node.defaultChild;
  if (!cfn || !CfnResource.isCfnResource(cfn)) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(cfn).resolve(cfn.logicalId) as string;
}
