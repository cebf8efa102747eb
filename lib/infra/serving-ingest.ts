import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambdaDestinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as destinations from 'aws-cdk-lib/aws-logs-destinations';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { failureQueue } from './failure-queue.js';
import { SERVING_EVENT_FILTER_PATTERN } from '../modules/serving/event-log.js';
import { grantAccess, type AccessResources } from './access.js';
import { AegisFunction } from './aegis-function.js';

export interface ServingIngestProps {
  /** Absolute path of the repository root (holds `lambdas/serving-ingest.ts`). */
  readonly projectRoot: string;
  /** Environment shared by every function. */
  readonly environment: Readonly<Record<string, string>>;
  readonly resources: AccessResources;
  /** The function whose log lines carry the serving events. */
  readonly servingFunction: AegisFunction;
}

/**
 * Serving events into the database without an API call per request: the serving function
 * writes each event as one JSON log line (`lib/modules/serving/event-log.ts`); a subscription
 * filter on its log group sends the lines that match `{ $.aegisServingEvent = 1 }` to the
 * `serving-ingest` function, which inserts them in batches, idempotently by request id
 * (CloudWatch Logs delivers at least once). The ingest has the database and nothing else
 * beyond what every function's startup checks read. A delivery that still fails after Lambda's
 * retries lands, payload and all, in a dead-letter queue that alarms (replay it by invoking the
 * function with the recorded `requestPayload`: the insert is idempotent).
 *
 * @example
 * new ServingIngest(this, 'ServingIngest', { projectRoot, environment, resources, servingFunction: fns.functions.servingPredict });
 */
export class ServingIngest extends Construct {
  public readonly ingestFunction: AegisFunction;
  public readonly subscriptionFilter: logs.SubscriptionFilter;
  public readonly deadLetterQueue: sqs.Queue;
  /** Deliveries that failed after retries are waiting in the dead-letter queue. */
  public readonly failureAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ServingIngestProps) {
    super(scope, id);
    this.ingestFunction = new AegisFunction(this, 'ingest', {
      entry: 'lambdas/serving-ingest.ts',
      projectRoot: props.projectRoot,
      description: 'Serving events from the serving function log lines (subscription filter) into the database, idempotent by request id',
      environment: props.environment,
      timeout: Duration.minutes(1),
    });
    grantAccess(this.ingestFunction, {}, props.resources);
    ({ queue: this.deadLetterQueue, alarm: this.failureAlarm } = failureQueue(
      this,
      'the serving-ingest function (its Lambda on-failure destination)',
      'Serving event deliveries failed after retries and wait in the serving-ingest dead-letter queue: those requests are missing from the canary judge until replayed (invoke serving-ingest with each recorded requestPayload; inserts are idempotent).',
    ));
    // CloudWatch Logs invokes asynchronously: Lambda retries twice, then records the delivery here.
    this.ingestFunction.function.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new lambdaDestinations.SqsDestination(this.deadLetterQueue),
    });
    // CloudWatch Logs invokes the function (the destination adds the permission, scoped to the log group)
    this.subscriptionFilter = new logs.SubscriptionFilter(this, 'Events', {
      logGroup: props.servingFunction.logGroup,
      destination: new destinations.LambdaDestination(this.ingestFunction.function),
      filterPattern: logs.FilterPattern.literal(SERVING_EVENT_FILTER_PATTERN),
      filterName: 'aegis-serving-events',
    });
  }
}
