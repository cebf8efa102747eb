import { Duration } from 'aws-cdk-lib';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { AEGIS_METRICS_NAMESPACE, registryMetric } from './monitoring.js';

/** The records service's counter of raised retrain suggestions (EMF, namespace `Aegis`, dimensions model, env, detector). */
export const DRIFT_SUGGESTIONS_METRIC = 'ai_infra_drift_suggestions_total';

export interface DriftMonitoringProps {
  /** The stack's alarm topic, which every alarm here notifies, and its dashboard, which gets the drift row (`AegisMonitoring`). */
  readonly monitoring: { readonly topic: sns.ITopic; readonly dashboard: cloudwatch.Dashboard };
  /** The drift state machine (`DriftWorkflow`). */
  readonly stateMachine: sfn.IStateMachine;
}

const FIVE_MINUTES = Duration.minutes(5);

/** Why an execution that did not succeed matters, by how it ended. */
const ENDINGS = [
  ['failed', 'Failed', 'a step failed after its retries (the run is failed with its error: GET /v1/drift/runs/{runId})'],
  ['timed-out', 'TimedOut', 'the run exceeded its hour (a huge window or a stuck step; the run may still say running)'],
  ['aborted', 'Aborted', 'someone stopped it (the run may still say running until a later request or schedule tick)'],
] as const;

/**
 * Drift runs on AWS, watched: an alarm when drift executions fail, time out or are aborted (each
 * means a window got no report, and so no retrain suggestion), and a dashboard row with runs
 * started, succeeded and failed, their duration, and the retrain suggestions raised. The
 * drift-step function's errors and the schedule's dead-letter queue are alarmed with the other
 * functions and jobs (`AegisMonitoring`).
 *
 * @example
 * new DriftMonitoring(this, 'DriftMonitoring', { monitoring, stateMachine: drift.stateMachine });
 */
export class DriftMonitoring extends Construct {
  /** Every alarm here, by a stable name. */
  public readonly alarms: ReadonlyMap<string, cloudwatch.Alarm>;

  constructor(scope: Construct, id: string, props: DriftMonitoringProps) {
    super(scope, id);
    const { topic, dashboard } = props.monitoring;
    const machine = props.stateMachine;
    const ended: Record<(typeof ENDINGS)[number][0], cloudwatch.Metric> = {
      failed: machine.metricFailed({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
      'timed-out': machine.metricTimedOut({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
      aborted: machine.metricAborted({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
    };
    const alarms = new Map<string, cloudwatch.Alarm>();
    for (const [name, pascal, meaning] of ENDINGS) {
      const alarm = ended[name].createAlarm(this, `DriftExecutions${pascal}`, {
        alarmDescription: `The drift state machine had ${name} executions (5 min): ${meaning}; that window has no drift report and raised no retrain suggestion`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new actions.SnsAction(topic));
      alarms.set(`drift-executions-${name}`, alarm);
    }
    // A suggestion's series carry the model, unknown at synth time: a Metrics Insights query sums
    // them (alarms take no SEARCH, but take one such query)
    const suggestions = new cloudwatch.MathExpression({
      expression: `SELECT SUM(${DRIFT_SUGGESTIONS_METRIC}) FROM SCHEMA("${AEGIS_METRICS_NAMESPACE}", detector, env, model, service)`,
      label: 'retrain suggestions raised',
      period: FIVE_MINUTES,
      usingMetrics: {},
    });
    const raised = suggestions.createAlarm(this, 'DriftSuggestionRaised', {
      alarmDescription:
        'Drift raised a retrain suggestion (5 min): review it (aegis drift suggestions; the dashboard row names the model) and accept or dismiss it (runbooks/drift_drill.md)',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    raised.addAlarmAction(new actions.SnsAction(topic));
    alarms.set('drift-suggestion-raised', raised);
    this.alarms = alarms;

    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Drift runs',
        left: [
          machine.metricStarted({ label: 'started' }),
          machine.metricSucceeded({ label: 'succeeded' }),
          ...ENDINGS.map(([name]) => ended[name].with({ label: name })),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Drift run duration (s)',
        // one id per statistic: a graph refuses two different metrics under one id
        left: [cloudwatch.Stats.p(50), cloudwatch.Stats.p(99), cloudwatch.Stats.MAXIMUM].map(
          (statistic, i) =>
            new cloudwatch.MathExpression({
              expression: `ms${i} / 1000`,
              label: statistic,
              period: FIVE_MINUTES,
              usingMetrics: { [`ms${i}`]: machine.metricTime({ period: FIVE_MINUTES, statistic }) },
            }),
        ),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Retrain suggestions raised',
        left: [registryMetric(DRIFT_SUGGESTIONS_METRIC, FIVE_MINUTES)],
        width: 4,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Drift alarms', alarms: [...alarms.values()], width: 4 }),
    );
  }
}
