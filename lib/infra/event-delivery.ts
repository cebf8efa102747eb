import { CfnOutput, Duration } from 'aws-cdk-lib';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { AccessResources } from './access.js';
import { ScheduledJob } from './audit-archive-schedule.js';
import { exampleRules, type ExampleRules } from './event-rules.js';
import { AEGIS_METRICS_NAMESPACE } from './monitoring.js';

/** The dispatcher's EMF metric of delivery outcomes (`ServiceMetrics.eventDeliveries`, dimensions `service`, `kind`, `outcome`). */
export const EVENT_DELIVERIES_METRIC = 'ai_infra_event_deliveries_total';
/** The variable naming the stack's bus (the dispatcher publishes to it; the migrate step subscribes it). */
export const EVENT_BUS_VARIABLE = 'AEGIS_EVENT_BUS_NAME';
/** The variable naming the dispatcher function, for the functions that append audit events (their commits wake it). */
export const EVENT_DISPATCH_VARIABLE = 'AEGIS_EVENT_DISPATCH_FUNCTION';

export interface EventDeliveryProps {
  readonly envName: string;
  /** Absolute path of the repository root. */
  readonly projectRoot: string;
  /** Environment shared by every function (configuration read by `lib/platform/config.ts`). */
  readonly environment: Readonly<Record<string, string>>;
  /** What the dispatcher is granted on (the database); `dataKey` also encrypts the example rollback topic. */
  readonly resources: AccessResources;
  /** @default Duration.minutes(1) */
  readonly rate?: Duration;
}

/**
 * Events out on AWS: the stack's event bus (`aegis-<env>-events`), the `event-dispatch` job
 * (a {@link ScheduledJob} every minute, also invoked asynchronously after each commit that
 * enqueued deliveries) which alone may PutEvents on it and delivers the webhooks, and example
 * rules on the bus, disabled: a canary rollback to an SNS topic, a drift suggestion to a
 * placeholder "retrain starter" state machine.
 *
 * @example
 * const delivery = new EventDelivery(this, 'Events', { envName: 'dev', projectRoot, environment, resources });
 * const resources = { ...base, eventDispatch: delivery.dispatcher.jobFunction.function };
 */
export class EventDelivery extends Construct {
  public readonly bus: events.EventBus;
  /** The `event-dispatch` job: its function, schedule, dead-letter queue and its alarm. */
  public readonly dispatcher: ScheduledJob;
  /** The example rules (disabled) and their targets. */
  public readonly examples: ExampleRules;

  constructor(scope: Construct, id: string, props: EventDeliveryProps) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', {
      eventBusName: `aegis-${props.envName}-events`,
      description: `Aegis ${props.envName}: every audit event (source aegis, detail-type its type, detail the signed event)`,
    });
    const rate = props.rate ?? Duration.minutes(1);
    this.dispatcher = new ScheduledJob(this, 'Dispatch', {
      projectRoot: props.projectRoot,
      environment: { ...props.environment, [EVENT_BUS_VARIABLE]: this.bus.eventBusName },
      resources: props.resources,
      entry: 'lambdas/event-dispatch.ts',
      // The database (the outbox and the chain) and PutEvents on this bus (below): it signs nothing.
      access: {},
      description:
        'Event dispatcher: delivers the events outbox in chain order to the stack event bus and to webhooks, with retries and dead letters',
      ruleDescription: `Deliver the events outbox every ${rate.toHumanString()} (commits also invoke it)`,
      rate,
      // the next tick is a minute away and a failed delivery is recorded, not thrown: a retry adds nothing
      retryAttempts: 1,
      // the dispatcher stops starting deliveries 40 s in (lib/platform/composition/events.ts)
      timeout: Duration.seconds(60),
      // a lease per subscription serializes deliveries anyway; a kick finding two runs busy waits for the next
      reservedConcurrentExecutions: 2,
      failureMeaning:
        'Event dispatcher runs failed after retries and wait in the dead-letter queue: the function cannot read the database or crashed; events wait in the outbox (nothing is lost) and are delivered once it runs again.',
    });
    this.bus.grantPutEventsTo(this.dispatcher.jobFunction.role);
    this.examples = exampleRules(this, { bus: this.bus, dataKey: props.resources.dataKey });
    new CfnOutput(this, 'BusName', {
      value: this.bus.eventBusName,
      description: 'Every audit event (source aegis, detail-type its type); the example rules on it are disabled',
    });
  }

  /** Alarms to the stack's topic: deliveries that went to the dead letters (`ai_infra_event_deliveries_total{outcome=dead}`, either kind). */
  monitor(monitoring: { readonly topic: sns.ITopic }): cloudwatch.Alarm {
    const period = Duration.minutes(5);
    const dead = (kind: 'webhook' | 'bus') =>
      new cloudwatch.Metric({
        namespace: AEGIS_METRICS_NAMESPACE,
        metricName: EVENT_DELIVERIES_METRIC,
        dimensionsMap: { service: 'aegis', kind, outcome: 'dead' },
        statistic: cloudwatch.Stats.SUM,
        period,
      });
    // alarms take no SEARCH: the two kinds' series, summed
    const sum = new cloudwatch.MathExpression({
      expression: 'FILL(webhook, 0) + FILL(bus, 0)',
      label: 'event deliveries dead',
      period,
      usingMetrics: { webhook: dead('webhook'), bus: dead('bus') },
    });
    const alarm = sum.createAlarm(this, 'DeadLetters', {
      alarmDescription:
        'Event deliveries went to the dead letters (5 min): a webhook refused or failed every attempt, or the bus refused an entry (runbooks/manifest_issues.md, "Event deliveries dead"): aegis webhooks deliveries <id> --status dead, fix, then aegis webhooks replay <id>',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new actions.SnsAction(monitoring.topic));
    return alarm;
  }
}
