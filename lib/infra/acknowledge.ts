import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Shortest reason we accept: long enough that "n/a" or "ok" cannot pass review. */
export const MIN_REASON_LENGTH = 20;

/** Rules whose findings are granular (one per managed policy, one per wildcard resource or action). */
const GRANULAR_RULES = /^AwsSolutions-IAM[45]\b/;

export interface NagAcknowledgment {
  /** A cdk-nag rule id, with the finding in brackets where the rule is granular: `AwsSolutions-IAM5[Resource::*]`. */
  readonly id: string;
  /** Why the finding is acceptable here; at least {@link MIN_REASON_LENGTH} characters. */
  readonly reason: string;
}

/**
 * Acknowledges cdk-nag findings on `scope` (and everything below it) through CDK's
 * `Validations` API, refusing reasons too short to explain anything.
 *
 * @example
 * acknowledge(logBucket, { id: 'AwsSolutions-S1', reason: 'This is the access-log target; logging it to itself would loop.' });
 */
export function acknowledge(scope: IConstruct, ...rules: NagAcknowledgment[]): void {
  for (const rule of rules) {
    // these rules report one finding per policy or resource: a bare id would silence findings nobody has seen
    if (GRANULAR_RULES.test(rule.id) && !/\[.+\]$/.test(rule.id)) {
      throw new Error(`acknowledgment of ${rule.id} at ${scope.node.path} must name the finding it covers: ${rule.id}[<finding>]`);
    }
    if (rule.reason.trim().length < MIN_REASON_LENGTH) {
      throw new Error(`acknowledgment of ${rule.id} at ${scope.node.path} needs a reason of at least ${MIN_REASON_LENGTH} characters`);
    }
  }
  Validations.of(scope).acknowledge(...rules);
}
