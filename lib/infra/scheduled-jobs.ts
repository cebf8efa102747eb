import { Duration } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { AccessResources } from './access.js';
import type { AegisStackProps } from './aegis-stack-props.js';
import { AuditArchiveSchedule, ScheduledJob } from './audit-archive-schedule.js';
import { driftPolicyBundle } from './policies-bundle.js';

export interface ScheduledJobsProps {
  /** Absolute path of the repository root. */
  readonly projectRoot: string;
  /** Environment shared by every function (configuration read by `lib/platform/config.ts`). */
  readonly environment: Readonly<Record<string, string>>;
  readonly resources: AccessResources;
  /** How often each job runs (the stack's props; each has its default). */
  readonly rates: Pick<
    AegisStackProps,
    | 'auditArchiveRate'
    | 'auditCheckpointRate'
    | 'pendingUploadExpiryRate'
    | 'pendingPromotionExpiryRate'
    | 'servingRetentionRate'
    | 'driftScheduleRate'
  >;
}

/** The jobs of the Scheduler port on AWS, by name (the keys name their functions on the dashboard). */
export interface ScheduledJobs {
  auditArchive: AuditArchiveSchedule;
  auditCheckpoint: ScheduledJob;
  pendingUploadExpiry: ScheduledJob;
  pendingPromotionExpiry: ScheduledJob;
  servingRetention: ScheduledJob;
  driftSchedule: ScheduledJob;
}

/**
 * Every scheduled job of the stack (`lib/platform/composition/jobs.ts` on AWS), each a
 * {@link ScheduledJob} of `scope` with exactly the grants it needs; `rollout-takeover` and
 * `quarantine-enforcement` are local only. `drift-schedule` needs `resources.driftStateMachine`.
 *
 * @example
 * const jobs = buildScheduledJobs(this, { projectRoot, environment, resources, rates: props });
 * jobs.servingRetention.jobFunction.function.node.addDependency(migrations.resource);
 */
export function buildScheduledJobs(scope: Construct, props: ScheduledJobsProps): ScheduledJobs {
  const { rates, ...base } = props;
  const auditArchive = new AuditArchiveSchedule(scope, 'AuditArchiveSchedule', {
    ...base,
    ...(rates.auditArchiveRate && { rate: rates.auditArchiveRate }),
  });
  const auditCheckpoint = new ScheduledJob(scope, 'AuditCheckpoint', {
    ...base,
    entry: 'lambdas/audit-checkpoint.ts',
    // The database (the head and the key ring), its own prefix of the archive bucket, and the audit key.
    access: { auditHeadCheckpoints: true, signAuditEvents: true },
    description:
      'Scheduled audit head checkpoint: signs the audit chain head with the audit key into the archive bucket (audit/heads/, Object Lock) when it moved',
    ruleDescription: `Sign the audit chain head every ${(rates.auditCheckpointRate ?? Duration.minutes(1)).toHumanString()}`,
    rate: rates.auditCheckpointRate ?? Duration.minutes(1),
    // the next run is one rate away: a single retry is enough
    retryAttempts: 1,
    timeout: Duration.seconds(50),
    failureMeaning:
      'Audit head checkpoint runs failed after retries and wait in the dead-letter queue: either the database is behind, or differs from, the newest signed checkpoint (its newest events were deleted or replaced: run aegis audit-verify), or checkpoints cannot be written and the window of events that can be deleted unnoticed grows until they are looked at.',
  });
  const pendingUploadExpiry = new ScheduledJob(scope, 'PendingUploadExpiry', {
    ...base,
    entry: 'lambdas/pending-upload-expiry.ts',
    // The database only: no function may delete objects; the bucket's lifecycle rule removes
    // the bytes (tagged aegis-upload=pending) on the same deadline.
    access: {},
    description:
      'Scheduled pending-upload expiry: uploads never registered within AEGIS_PENDING_UPLOAD_TTL_SECONDS are expired (rows; the lifecycle rule removes the bytes)',
    rate: rates.pendingUploadExpiryRate ?? Duration.hours(1),
    timeout: Duration.minutes(10),
    failureMeaning:
      'Pending-upload expiry runs failed after retries and wait in the dead-letter queue: unregistered upload rows stay registrable-looking in the database until they are looked at (the lifecycle rule still removes their bytes).',
  });
  const pendingPromotionExpiry = new ScheduledJob(scope, 'PendingPromotionExpiry', {
    ...base,
    entry: 'lambdas/pending-promotion-expiry.ts',
    // The database, and the audit key to sign each promotion.expired event: nothing else.
    access: { signAuditEvents: true },
    description:
      'Scheduled pending-promotion expiry: multisig promotions still waiting for approvals after AEGIS_PENDING_PROMOTION_TTL_SECONDS are marked expired, audited',
    rate: rates.pendingPromotionExpiryRate ?? Duration.minutes(15),
    timeout: Duration.minutes(5),
    failureMeaning:
      'Pending-promotion expiry runs failed after retries and wait in the dead-letter queue: promotions past their expiry stay pending in the database until touched (they are still expired then, and refuse approvals).',
  });
  // The database only: input segments in the drift bucket expire by its lifecycle rule on the same
  // horizon (the Lambda composition's segmentExpiry 'lifecycle'), so it needs no right to list or delete objects.
  const servingRetention = new ScheduledJob(scope, 'ServingRetention', {
    ...base,
    entry: 'lambdas/serving-retention.ts',
    access: {},
    description:
      'Scheduled serving retention: serving events and label feedback older than AEGIS_SERVING_RETENTION_DAYS are deleted (input segments expire by the drift bucket lifecycle rule)',
    // hourly keeps each run's deletes small (an hour of events), far within the Data API's 45 s
    rate: rates.servingRetentionRate ?? Duration.hours(1),
    timeout: Duration.minutes(10),
    failureMeaning:
      'Serving retention runs failed after retries and wait in the dead-letter queue: serving events and labels older than the retention horizon stay in the database (and count against its storage) until they are looked at.',
  });
  const driftSchedule = driftScheduleJob(scope, base, rates.driftScheduleRate ?? Duration.minutes(5));
  return { auditArchive, auditCheckpoint, pendingUploadExpiry, pendingPromotionExpiry, servingRetention, driftSchedule };
}

/**
 * The `drift-schedule` job: starts a drift run for each serving deployment whose latest window
 * (policies/drift.json) has none yet. The database, the drift configuration in its bundle, and
 * StartExecution on the drift state machine only: it reads no segment and signs nothing (the
 * runs it starts do that in the drift step).
 */
function driftScheduleJob(scope: Construct, base: Omit<ScheduledJobsProps, 'rates'>, rate: Duration): ScheduledJob {
  return new ScheduledJob(scope, 'DriftSchedule', {
    ...base,
    ...driftPolicyBundle(base.environment),
    entry: 'lambdas/drift-schedule.ts',
    access: { startDriftRuns: true },
    description:
      'Scheduled drift runs: starts the drift state machine for every serving deployment whose latest complete window (policies/drift.json) has no run yet',
    // a tick only inserts runs (one per window, a unique index) and starts executions: the next tick retries what failed
    rate,
    retryAttempts: 1,
    timeout: Duration.minutes(2),
    failureMeaning:
      'Drift schedule runs failed after retries and wait in the dead-letter queue: scheduled drift windows get no run (no report, no retrain suggestion) until they are looked at; a later tick starts only its own latest window.',
  });
}
