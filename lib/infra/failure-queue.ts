import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { acknowledge } from './acknowledge.js';

/**
 * Where an asynchronous invocation lands after its retries: an encrypted, TLS-only queue of
 * `scope` (`DeadLetterQueue`, kept 14 days, the longest SQS keeps a message: time to notice,
 * look and re-run) and an alarm (`FailureAlarm`) while anything waits in it.
 *
 * @param dlqOf what the queue is the dead-letter queue of (cdk-nag's SQS3 acknowledgement names it)
 * @param meaning the alarm's description: what a message there means and how to replay it
 */
export function failureQueue(scope: Construct, dlqOf: string, meaning: string): { queue: sqs.Queue; alarm: cloudwatch.Alarm } {
  const queue = new sqs.Queue(scope, 'DeadLetterQueue', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  acknowledge(queue, {
    id: 'AwsSolutions-SQS3',
    reason: `This queue is itself the dead-letter queue of ${dlqOf}; a DLQ of a DLQ would only move the problem.`,
  });
  const alarm = new cloudwatch.Alarm(scope, 'FailureAlarm', {
    alarmDescription: meaning,
    metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: cloudwatch.Stats.MAXIMUM }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  return { queue, alarm };
}
