import { Duration } from 'aws-cdk-lib';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { AEGIS_METRICS_NAMESPACE } from './monitoring.js';

/** The archive run's gauge of committed events it did not hold when it ended (EMF, dimension `service`). */
export const AUDIT_ARCHIVE_LAG_METRIC = 'ai_infra_audit_archive_lag_events';
/** Each check of the audit chain (EMF, dimensions `service`, `source`, `outcome`). */
export const AUDIT_VERIFICATIONS_METRIC = 'ai_infra_audit_verifications_total';
/** What the chain checks are: `aegis audit-verify` of either copy, and the scheduled head checkpoint job. */
const SOURCES = ['database', 'archive', 'checkpoint'] as const;
/** A whole segment behind: a healthy run leaves only the events committed while it ran. */
export const AUDIT_ARCHIVE_LAG_THRESHOLD = 1000;

export interface AuditMonitoringProps {
  /** The stack's alarm topic, which every alarm here notifies, and its dashboard, which gets the audit row (`AegisMonitoring`). */
  readonly monitoring: { readonly topic: sns.ITopic; readonly dashboard: cloudwatch.Dashboard };
}

const FIFTEEN_MINUTES = Duration.minutes(15);

/**
 * The audit chain on AWS, watched: an alarm when the archive stays a segment or more behind the
 * chain, and one when a chain check fails (a verification of either copy, or the head
 * checkpoint job refusing a database behind or unlike its newest checkpoint); and a dashboard
 * row with the lag and the checks. An archive job that fails before it reads the archive emits
 * no lag: its dead-letter queue alarm (`ScheduledJob`) says so.
 *
 * @example
 * new AuditMonitoring(this, 'AuditMonitoring', { monitoring });
 */
export class AuditMonitoring extends Construct {
  /** Every alarm here, by a stable name. */
  public readonly alarms: ReadonlyMap<string, cloudwatch.Alarm>;

  constructor(scope: Construct, id: string, props: AuditMonitoringProps) {
    super(scope, id);
    const { topic, dashboard } = props.monitoring;
    const lag = new cloudwatch.Metric({
      namespace: AEGIS_METRICS_NAMESPACE,
      metricName: AUDIT_ARCHIVE_LAG_METRIC,
      dimensionsMap: { service: 'aegis' },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: FIFTEEN_MINUTES,
    });
    const checks = (outcome: 'ok' | 'failed') =>
      Object.fromEntries(
        SOURCES.map((source) => [
          `${outcome[0]}${source}`,
          new cloudwatch.Metric({
            namespace: AEGIS_METRICS_NAMESPACE,
            metricName: AUDIT_VERIFICATIONS_METRIC,
            dimensionsMap: { service: 'aegis', source, outcome },
            statistic: cloudwatch.Stats.SUM,
            period: FIFTEEN_MINUTES,
          }),
        ]),
      );
    const summed = (outcome: 'ok' | 'failed') =>
      new cloudwatch.MathExpression({
        // alarms take no SEARCH: the three sources' series, summed
        expression: SOURCES.map((s) => `FILL(${outcome[0]}${s}, 0)`).join(' + '),
        label: `chain checks ${outcome}`,
        period: FIFTEEN_MINUTES,
        usingMetrics: checks(outcome),
      });
    const alarms = new Map<string, cloudwatch.Alarm>([
      [
        'audit-archive-behind',
        lag.createAlarm(this, 'ArchiveBehind', {
          alarmDescription: `The audit archive stayed ${AUDIT_ARCHIVE_LAG_THRESHOLD} or more events behind the chain for 30 minutes: the archive job fails or cannot keep up, and the unarchived events are protected only by the signed head checkpoints (runbooks/manifest_issues.md, "Audit archive behind")`,
          threshold: AUDIT_ARCHIVE_LAG_THRESHOLD,
          evaluationPeriods: 2,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      ],
      [
        'audit-chain-check-failed',
        summed('failed').createAlarm(this, 'ChainCheckFailed', {
          alarmDescription:
            'An audit chain check failed (15 min): aegis audit-verify found a break, or the head checkpoint job refused the database (runbooks/manifest_issues.md, "Audit chain breaks")',
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      ],
    ]);
    for (const alarm of alarms.values()) alarm.addAlarmAction(new actions.SnsAction(topic));
    this.alarms = alarms;

    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Audit archive lag (events, max)',
        left: [lag.with({ label: 'events not archived after a run' })],
        leftAnnotations: [{ value: AUDIT_ARCHIVE_LAG_THRESHOLD, label: 'alarm' }],
        width: 8,
      }),
      new cloudwatch.GraphWidget({ title: 'Audit chain checks', left: [summed('ok'), summed('failed')], width: 8 }),
      new cloudwatch.AlarmStatusWidget({ title: 'Audit alarms', alarms: [...alarms.values()], width: 8 }),
    );
  }
}
