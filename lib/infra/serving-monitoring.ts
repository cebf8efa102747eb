import { Duration } from 'aws-cdk-lib';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { SERVING_INGEST_SERVICE, SERVING_METRIC, SERVING_METRICS_NAMESPACE } from '../kernel/emf.js';
import type { Variant } from '../kernel/canary-metrics.js';
import { TARGET_ENVS } from '../kernel/policy.js';
import { AEGIS_METRICS_NAMESPACE } from './monitoring.js';

/** The serving alarms' thresholds (`serving` in environments.json). */
export interface ServingAlarmConfig {
  /**
   * p99 server-side latency (ms) of warm requests, per variant, above which the latency alarm
   * fires (three 5-minute periods running, in the worst target environment).
   *
   * @default DEFAULT_SERVING_LATENCY_P99_MS
   */
  readonly alarmLatencyP99Ms?: number;
  /**
   * Error rate (0–1 of a variant's requests, all target environments) above which the canary's
   * and the stable variant's error alarms fire (two 5-minute periods running, with at least
   * `CANARY_ALARM_MIN_REQUESTS` requests of the variant in each).
   *
   * @default DEFAULT_CANARY_ERROR_RATE
   */
  readonly alarmCanaryErrorRate?: number;
  /**
   * Oldest serving event of a delivery, in minutes, beyond which the ingest lag alarm fires
   * (two 5-minute periods running): the canary judge then reads windows with events missing.
   *
   * @default DEFAULT_INGEST_LAG_MINUTES
   */
  readonly alarmIngestLagMinutes?: number;
}

export const DEFAULT_SERVING_LATENCY_P99_MS = 500;
export const DEFAULT_CANARY_ERROR_RATE = 0.05;
/** Fewer canary requests than this in 5 minutes never alarm: 1 error in 2 requests is not a 50 % error rate. */
export const CANARY_ALARM_MIN_REQUESTS = 20;
export const DEFAULT_INGEST_LAG_MINUTES = 10;

export interface ServingMonitoringProps {
  /** The stack's alarm topic, which every alarm here notifies, and its dashboard, which gets the serving rows (`AegisMonitoring`). */
  readonly monitoring: { readonly topic: sns.ITopic; readonly dashboard: cloudwatch.Dashboard };
  /**
   * The thresholds (`serving` of environments.json; other fields of it are ignored).
   *
   * @default - the defaults of {@link ServingAlarmConfig}
   */
  readonly thresholds?: ServingAlarmConfig | undefined;
}

const VARIANTS: readonly Variant[] = ['stable', 'canary'];
const FIVE_MINUTES = Duration.minutes(5);

/**
 * Serving on AWS, watched: alarms on the canary's and the stable variant's error rates, each
 * variant's p99 latency, the serving-ingest lag, and canary windows judged `fail`; and
 * dashboard rows with requests, errors, latency p50/p99 per variant, ingest lag and volume,
 * the verdicts, and every deployment's canary traffic share.
 *
 * The serving metrics come from the serving event lines themselves (EMF, namespace
 * `Aegis/Serving`, `lib/modules/serving/event-log.ts`), the ingest's from one EMF line per
 * delivery, the verdicts from the rollout step (`ai_infra_canary_verdicts_total`, namespace
 * `Aegis`): nothing calls CloudWatch on the request path. The ingest function's own errors are
 * already alarmed with every function's (`AegisMonitoring`), and its dead-letter queue by
 * `ServingIngest`.
 *
 * @example
 * new ServingMonitoring(this, 'ServingMonitoring', { monitoring, thresholds: { alarmLatencyP99Ms: 250 } });
 */
export class ServingMonitoring extends Construct {
  /** Every alarm here, by a stable name. */
  public readonly alarms: ReadonlyMap<string, cloudwatch.Alarm>;

  constructor(scope: Construct, id: string, props: ServingMonitoringProps) {
    super(scope, id);
    const { topic, dashboard } = props.monitoring;
    const latencyP99 = props.thresholds?.alarmLatencyP99Ms ?? DEFAULT_SERVING_LATENCY_P99_MS;
    const errorRate = props.thresholds?.alarmCanaryErrorRate ?? DEFAULT_CANARY_ERROR_RATE;
    const lagMinutes = props.thresholds?.alarmIngestLagMinutes ?? DEFAULT_INGEST_LAG_MINUTES;
    if (!(latencyP99 > 0)) throw new Error(`alarmLatencyP99Ms must be more than 0 ms (got ${latencyP99})`);
    if (!(errorRate > 0 && errorRate < 1)) throw new Error(`alarmCanaryErrorRate must be between 0 and 1 (got ${errorRate})`);
    if (!(lagMinutes >= 1)) throw new Error(`alarmIngestLagMinutes must be at least 1 (got ${lagMinutes})`);

    const alarms = new Map<string, cloudwatch.Alarm>();
    const notify = (name: string, alarm: cloudwatch.Alarm) => {
      alarm.addAlarmAction(new actions.SnsAction(topic));
      alarms.set(name, alarm);
    };
    // Alarms take no SEARCH: each sums or maxes the explicit series of the target environments.
    const envs = TARGET_ENVS.map((env, i) => ({ env, i }));

    const ofVariant = (variant: Variant, metricName: string, prefix: string) =>
      Object.fromEntries(envs.map(({ env, i }) => [`${prefix}${i}`, servingMetric(metricName, env, variant, cloudwatch.Stats.SUM)]));
    const filledSum = (prefix: string) => envs.map(({ i }) => `FILL(${prefix}${i}, 0)`).join(' + ');
    const whatNext = {
      stable:
        'no judge rolls a stable variant back: roll back by hand (runbooks/canary_rollback.md) unless the model or its inputs are at fault',
      canary: 'the canary judge should roll it back at its next window',
    };
    for (const variant of VARIANTS) {
      notify(
        `serving-${variant}-error-rate`,
        new cloudwatch.MathExpression({
          expression: `IF((${filledSum('r')}) >= ${CANARY_ALARM_MIN_REQUESTS}, (${filledSum('e')}) / (${filledSum('r')}), 0)`,
          label: `${variant} error rate`,
          period: FIVE_MINUTES,
          usingMetrics: { ...ofVariant(variant, SERVING_METRIC.requests, 'r'), ...ofVariant(variant, SERVING_METRIC.errors, 'e') },
        }).createAlarm(this, `${variant === 'stable' ? 'Stable' : 'Canary'}ErrorRate`, {
          alarmDescription: `${variant === 'stable' ? 'Stable' : 'Canary'} requests failed at more than ${errorRate * 100} % for 10 minutes (at least ${CANARY_ALARM_MIN_REQUESTS} ${variant} requests per 5 min): ${whatNext[variant]}; check the serving function's log for the errors and the dashboard for the environment`,
          threshold: errorRate,
          evaluationPeriods: 2,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }

    for (const variant of VARIANTS) {
      notify(
        `serving-latency-p99-${variant}`,
        new cloudwatch.MathExpression({
          // the worst environment's p99: percentiles of different series cannot be added
          expression: `MAX([${envs.map(({ i }) => `p${i}`).join(', ')}])`,
          label: `${variant} p99 latency (ms), worst environment`,
          period: FIVE_MINUTES,
          usingMetrics: Object.fromEntries(
            envs.map(({ env, i }) => [`p${i}`, servingMetric(SERVING_METRIC.latency, env, variant, cloudwatch.Stats.p(99))]),
          ),
        }).createAlarm(this, `LatencyP99${variant === 'stable' ? 'Stable' : 'Canary'}`, {
          alarmDescription: `The ${variant} variant's p99 serving latency (warm requests, server side) stayed above ${latencyP99} ms for 15 minutes in a target environment: see the dashboard's latency row for which; a slow model or too little memory (serving.memoryMb)`,
          threshold: latencyP99,
          evaluationPeriods: 3,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }

    const lag = ingestMetric(SERVING_METRIC.ingestLag, cloudwatch.Stats.MAXIMUM);
    notify(
      'serving-ingest-lag',
      lag.createAlarm(this, 'IngestLag', {
        alarmDescription: `Serving events reached the database more than ${lagMinutes} minutes after they were served, for 10 minutes: the canary judge reads windows with events missing (inconclusive or misjudged); check the serving-ingest function's duration, throttles and the Data API`,
        threshold: lagMinutes * 60,
        evaluationPeriods: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    notify(
      'canary-fail-verdicts',
      new cloudwatch.MathExpression({
        expression: envs.map(({ i }) => `FILL(f${i}, 0)`).join(' + '),
        label: 'canary windows judged fail',
        period: FIVE_MINUTES,
        usingMetrics: Object.fromEntries(envs.map(({ env, i }) => [`f${i}`, verdictMetric(env, 'fail')])),
      }).createAlarm(this, 'CanaryFailVerdicts', {
        alarmDescription:
          "A canary window was judged fail (5 min): its rollout is rolling back; the promotion's verdicts (aegis promotion get) name the check that failed",
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    this.alarms = alarms;

    const perVariant = (metricName: string, statistic: string, label: (env: string, v: Variant) => string) =>
      envs.flatMap(({ env }) =>
        VARIANTS.map((v) => servingMetric(metricName, env, v, statistic, Duration.minutes(1)).with({ label: label(env, v) })),
      );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Serving requests per variant (per minute)',
        left: perVariant(SERVING_METRIC.requests, cloudwatch.Stats.SUM, (env, v) => `${env} ${v}`),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Serving errors per variant (per minute)',
        left: perVariant(SERVING_METRIC.errors, cloudwatch.Stats.SUM, (env, v) => `${env} ${v}`),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Serving latency per variant (ms, warm requests)',
        left: [
          ...perVariant(SERVING_METRIC.latency, cloudwatch.Stats.p(50), (env, v) => `${env} ${v} p50`),
          ...perVariant(SERVING_METRIC.latency, cloudwatch.Stats.p(99), (env, v) => `${env} ${v} p99`),
        ],
        leftAnnotations: [{ value: latencyP99, label: 'p99 alarm' }],
        width: 8,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Serving ingest: lag (s, max) and events',
        left: [lag.with({ label: 'lag (oldest event of a delivery)' })],
        leftAnnotations: [{ value: lagMinutes * 60, label: 'lag alarm' }],
        right: [
          ingestMetric(SERVING_METRIC.ingested, cloudwatch.Stats.SUM).with({ label: 'events' }),
          ingestMetric(SERVING_METRIC.duplicates, cloudwatch.Stats.SUM).with({ label: 'duplicates (redelivered)' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Canary verdicts (judged windows)',
        left: (['pass', 'fail', 'inconclusive'] as const).map(
          (verdict) =>
            new cloudwatch.MathExpression({
              expression: envs.map(({ i }) => `FILL(${verdict[0]}${i}, 0)`).join(' + '),
              label: verdict,
              period: FIVE_MINUTES,
              usingMetrics: Object.fromEntries(envs.map(({ env, i }) => [`${verdict[0]}${i}`, verdictMetric(env, verdict)])),
            }),
        ),
        width: 8,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Serving alarms', alarms: [...alarms.values()], width: 8 }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Canary traffic (% of requests, by deployment)',
        left: [
          new cloudwatch.MathExpression({
            // one line per model and environment: the share the rollout step last set (0 once it ended)
            expression: `SEARCH('{${AEGIS_METRICS_NAMESPACE},env,model,service} MetricName="ai_infra_canary_traffic_percent"', 'Maximum', 60)`,
            label: '',
            period: Duration.minutes(1),
          }),
        ],
        leftYAxis: { min: 0, max: 100 },
        width: 24,
        height: 6,
      }),
    );
  }
}

/** One serving series of the event lines' EMF (dimension set `[Environment, Variant]`). */
function servingMetric(metricName: string, env: string, variant: Variant, statistic: string, period = FIVE_MINUTES): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: SERVING_METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { Environment: env, Variant: variant },
    statistic,
    period,
  });
}

/** One of the ingest's series (dimension `Service=serving-ingest`). */
function ingestMetric(metricName: string, statistic: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: SERVING_METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { Service: SERVING_INGEST_SERVICE },
    statistic,
    period: FIVE_MINUTES,
  });
}

/** The rollout step's verdict counter in one target environment (`EmfMetricsSink`: dimensions `service`, `env`, `verdict`). */
function verdictMetric(env: string, verdict: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: AEGIS_METRICS_NAMESPACE,
    metricName: 'ai_infra_canary_verdicts_total',
    dimensionsMap: { service: 'aegis', env, verdict },
    statistic: cloudwatch.Stats.SUM,
    period: FIVE_MINUTES,
  });
}
