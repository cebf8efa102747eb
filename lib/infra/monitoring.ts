import { Duration, NestedStack, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { TARGET_ENVS } from '../kernel/policy.js';

/** The CloudWatch namespace the functions' EMF metrics land in (`EmfMetricsSink`). */
export const AEGIS_METRICS_NAMESPACE = 'Aegis';

export interface MonitoredFunction {
  /** A short, stable name for alarm ids and the dashboard (`register`, `rolloutStep`, …). */
  readonly name: string;
  readonly function: lambda.IFunction;
  /** `expected`: part of its design (small reserved concurrency, async invocations Lambda retries): errors alone alarm */
  readonly throttles?: 'expected';
}

export interface AegisMonitoringProps {
  readonly envName: string;
  /** Encrypts the alarm topic; CloudWatch is allowed to use it for publishing. */
  readonly encryptionKey: kms.IKey;
  /** Every function of the stack: each gets an error and a throttle alarm. */
  readonly functions: readonly MonitoredFunction[];
  readonly api: apigw.RestApi;
  /** The rollout state machines by name (`promotion`, `rollback`). */
  readonly stateMachines: Readonly<Record<string, sfn.IStateMachine>>;
  /** Alarms built elsewhere (the scheduled jobs' dead-letter queues) that should notify too. */
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly cluster: rds.DatabaseCluster;
  /** The cluster's maximum Serverless v2 capacity (ACUs): the capacity alarm fires near it. */
  readonly maxCapacity: number;
  /**
   * An address subscribed to the alarm topic (it must confirm the subscription).
   *
   * @default - no subscription: subscribe to the `AlarmTopicArn` output
   */
  readonly alarmEmail?: string;
  /**
   * p99 API latency (ms) over 5 minutes above which the latency alarm fires, for 3 periods running.
   *
   * @default 3000
   */
  readonly apiLatencyP99Ms?: number;
}

/**
 * What an operator of Aegis watches: one SNS topic every alarm notifies (encrypted, TLS-only),
 * alarms on every function's errors and throttles, the API's 5xx rate and p99 latency, the
 * rollout state machines' failed and timed-out executions, the rollback machine in particular,
 * Aurora's capacity, canary rollbacks, and the scheduled jobs' dead-letter queues; and one
 * dashboard with the same signals plus the registry's own metrics (namespace `Aegis`).
 */
export class AegisMonitoring extends Construct {
  public readonly topic: sns.Topic;
  public readonly dashboard: cloudwatch.Dashboard;
  /** Every alarm that notifies the topic, by a stable name. */
  public readonly alarms: ReadonlyMap<string, cloudwatch.Alarm>;
  /** Holds the per-function alarms (`<name>-errors-throttles` in {@link alarms}). */
  public readonly functionAlarms: NestedStack;

  constructor(scope: Construct, id: string, props: AegisMonitoringProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `Aegis ${props.envName} alarms`,
      masterKey: props.encryptionKey,
      enforceSSL: true,
    });
    // CloudWatch publishes alarm notifications to an encrypted topic only if it may use the key.
    props.encryptionKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToTheEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    const alarms = new Map<string, cloudwatch.Alarm>();
    const notify = (name: string, alarm: cloudwatch.Alarm) => {
      alarm.addAlarmAction(new actions.SnsAction(this.topic));
      alarms.set(name, alarm);
    };
    const fiveMinutes = Duration.minutes(5);

    // One alarm per function on errors + throttles (one metric-math alarm, not two), in a nested stack of its
    // own: the main stack stays under CloudFormation's 500 resources as functions are added.
    this.functionAlarms = new NestedStack(this, 'FunctionAlarms', { description: `Aegis ${props.envName}: function alarms` });
    for (const f of props.functions) {
      const throttles = f.throttles !== 'expected';
      notify(
        `${f.name}-errors-throttles`,
        new cloudwatch.MathExpression({
          expression: throttles ? 'errors + throttles' : 'errors',
          label: `${f.name} errors${throttles ? ' + throttles' : ''}`,
          period: fiveMinutes,
          usingMetrics: {
            errors: f.function.metricErrors({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
            ...(throttles && { throttles: f.function.metricThrottles({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }) }),
          },
        }).createAlarm(this.functionAlarms, `${f.name}ErrorsThrottles`, {
          alarmDescription: `Aegis function ${f.name} threw or was throttled (5 min): its log group has the error with the request id; throttles mean the account's or its reserved concurrency is too low`,
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }

    notify(
      'api-5xx',
      props.api.metricServerError({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }).createAlarm(this, 'Api5xx', {
        alarmDescription: 'The Aegis API answered 5xx (5 min): see the function error alarms and the access log',
        threshold: 5,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    const p99 = props.apiLatencyP99Ms ?? 3000;
    notify(
      'api-latency-p99',
      props.api.metricLatency({ period: fiveMinutes, statistic: cloudwatch.Stats.p(99) }).createAlarm(this, 'ApiLatencyP99', {
        alarmDescription: `The Aegis API's p99 latency stayed above ${p99} ms for 15 minutes`,
        threshold: p99,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    for (const [name, machine] of Object.entries(props.stateMachines)) {
      const meaning =
        name === 'rollback'
          ? 'a rollback did not complete: the canary route may still send traffic to the artifact being rolled back — check the route and roll back by hand (runbooks)'
          : 'a promotion rollout did not complete: its promotion is failed or stuck, the route may hold a canary share';
      notify(
        `${name}-executions-failed`,
        machine
          .metricFailed({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM })
          .createAlarm(this, `${pascal(name)}ExecutionsFailed`, {
            alarmDescription: `The ${name} state machine had failed executions (5 min): ${meaning}`,
            threshold: 1,
            evaluationPeriods: 1,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          }),
      );
      notify(
        `${name}-executions-timed-out`,
        machine
          .metricTimedOut({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM })
          .createAlarm(this, `${pascal(name)}ExecutionsTimedOut`, {
            alarmDescription: `The ${name} state machine had timed-out executions (5 min): ${meaning}`,
            threshold: 1,
            evaluationPeriods: 1,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          }),
      );
    }

    notify(
      'canary-rollbacks',
      new cloudwatch.MathExpression({
        // alarms take no SEARCH: the rollback counter's one series per target environment, summed
        expression: TARGET_ENVS.map((_, i) => `r${i}`).join(' + '),
        label: 'canary rollbacks',
        period: fiveMinutes,
        usingMetrics: Object.fromEntries(
          TARGET_ENVS.map((env, i) => [
            `r${i}`,
            new cloudwatch.Metric({
              namespace: AEGIS_METRICS_NAMESPACE,
              metricName: 'ai_infra_canary_rollbacks_total',
              dimensionsMap: { service: 'aegis', env },
              statistic: cloudwatch.Stats.SUM,
              period: fiveMinutes,
            }),
          ]),
        ),
      }).createAlarm(this, 'CanaryRollbacks', {
        alarmDescription: 'A canary was rolled back by its judge (5 min): the promotion names the check that failed',
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    const capacity = new cloudwatch.Metric({
      namespace: 'AWS/RDS',
      metricName: 'ServerlessDatabaseCapacity',
      dimensionsMap: { DBClusterIdentifier: props.cluster.clusterIdentifier },
      period: fiveMinutes,
      statistic: cloudwatch.Stats.MAXIMUM,
    });
    notify(
      'database-capacity',
      capacity.createAlarm(this, 'DatabaseCapacity', {
        alarmDescription: `The registry database ran at 90 % or more of its ${props.maxCapacity} ACU maximum for 15 minutes: raise the maximum`,
        threshold: props.maxCapacity * 0.9,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    props.alarms.forEach((alarm, i) => notify(`job-${i}`, alarm));
    this.alarms = alarms;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `aegis-${props.envName}`,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'API requests and errors',
        left: [props.api.metricCount({ period: Duration.minutes(1) })],
        right: [props.api.metricClientError({ period: Duration.minutes(1) }), props.api.metricServerError({ period: Duration.minutes(1) })],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'API latency (ms)',
        left: ['p50', 'p90', 'p99'].map((s) => props.api.metricLatency({ period: Duration.minutes(1), statistic: s, label: s })),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Registrations and promotions',
        left: [
          registryMetric('aegis_registry_registrations_total', Duration.minutes(5)),
          registryMetric('aegis_registry_promotions_total', Duration.minutes(5)),
          registryMetric('ai_infra_canary_rollbacks_total', Duration.minutes(5)),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Registration and promotion latency (s, p99)',
        left: [
          registryMetric('ai_infra_artifact_registration_latency_seconds', Duration.minutes(5), cloudwatch.Stats.p(99)),
          registryMetric('ai_infra_promotion_latency_seconds', Duration.minutes(5), cloudwatch.Stats.p(99)),
        ],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Rollout executions',
        left: Object.entries(props.stateMachines).flatMap(([name, m]) => [
          m.metricStarted({ label: `${name} started` }),
          m.metricSucceeded({ label: `${name} succeeded` }),
          m.metricFailed({ label: `${name} failed` }),
          m.metricTimedOut({ label: `${name} timed out` }),
        ]),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Function errors and throttles (all functions)',
        left: [
          new cloudwatch.MathExpression({
            expression: 'SUM(METRICS("e"))',
            label: 'errors',
            usingMetrics: Object.fromEntries(props.functions.map((f, i) => [`e${i}`, f.function.metricErrors({ period: fiveMinutes })])),
          }),
          new cloudwatch.MathExpression({
            expression: 'SUM(METRICS("t"))',
            label: 'throttles',
            usingMetrics: Object.fromEntries(props.functions.map((f, i) => [`t${i}`, f.function.metricThrottles({ period: fiveMinutes })])),
          }),
        ],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Database capacity (ACU)', left: [capacity], width: 12 }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...alarms.values()], width: 12, height: 12 }),
    );
  }
}

/** One of the registry's own series (EMF, namespace `Aegis`, dimension `service`), summed over its other dimensions. */
export function registryMetric(name: string, period: Duration, statistic: string = cloudwatch.Stats.SUM): cloudwatch.IMetric {
  return new cloudwatch.MathExpression({
    expression: `SUM(SEARCH('{${AEGIS_METRICS_NAMESPACE}} MetricName="${name}"', '${statistic === cloudwatch.Stats.SUM ? 'Sum' : statistic}', ${period.toSeconds()}))`,
    label: name,
    period,
  });
}

const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
