import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as destinations from 'aws-cdk-lib/aws-logs-destinations';
import { Construct } from 'constructs';
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
 * beyond what every function's startup checks read.
 *
 * @example
 * new ServingIngest(this, 'ServingIngest', { projectRoot, environment, resources, servingFunction: fns.functions.servingPredict });
 */
export class ServingIngest extends Construct {
  public readonly ingestFunction: AegisFunction;
  public readonly subscriptionFilter: logs.SubscriptionFilter;

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
    // CloudWatch Logs invokes the function (the destination adds the permission, scoped to the log group)
    this.subscriptionFilter = new logs.SubscriptionFilter(this, 'Events', {
      logGroup: props.servingFunction.logGroup,
      destination: new destinations.LambdaDestination(this.ingestFunction.function),
      filterPattern: logs.FilterPattern.literal(SERVING_EVENT_FILTER_PATTERN),
      filterName: 'aegis-serving-events',
    });
  }
}
