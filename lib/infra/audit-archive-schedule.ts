import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { failureQueue } from './failure-queue.js';
import { grantAccess, type AccessResources } from './access.js';
import { AegisFunction } from './aegis-function.js';
import { ROUTE_ACCESS } from './api-functions.js';

import type { RouteAccess } from './access.js';

export interface ScheduledJobProps {
  /** Absolute path of the repository root. */
  readonly projectRoot: string;
  /** Environment shared by every function (configuration read by `lib/platform/config.ts`). */
  readonly environment: Readonly<Record<string, string>>;
  readonly resources: AccessResources;
  /** The handler file, relative to `projectRoot`; it exports `scheduled`, which runs the job through the Scheduler port. */
  readonly entry: string;
  /** What the function may touch (the database always). */
  readonly access: RouteAccess;
  /** Files of `projectRoot` the job reads at run time, copied into its bundle (`AegisFunctionProps.bundleFiles`). @default - none */
  readonly bundleFiles?: readonly string[];
  /** What one run does (the function's description). */
  readonly description: string;
  /** @default - the description and the rate */
  readonly ruleDescription?: string;
  /** Id of the function construct (kept stable for existing stacks). @default 'job' */
  readonly functionId?: string;
  readonly rate: Duration;
  /**
   * Retries before a run lands in the dead-letter queue: EventBridge retries delivering the
   * event, Lambda retries a run that failed (at most 2).
   *
   * @default 2
   */
  readonly retryAttempts?: number;
  /** Keep it under the rate so runs rarely overlap (overlapping runs are safe). */
  readonly timeout: Duration;
  /** What it means when runs pile up in the dead-letter queue. */
  readonly failureMeaning: string;
  /** At most this many runs at once (`AegisFunctionProps.reservedConcurrentExecutions`). @default - none */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * One job of the Scheduler port on AWS: an EventBridge rule invokes the `scheduled` export of
 * its own function, with exactly the grants the job needs. Runs that still fail after retries,
 * whether EventBridge could not deliver them or the function threw, land in an encrypted,
 * TLS-only dead-letter queue, and an alarm goes off when that queue is not empty.
 *
 * @example
 * new ScheduledJob(this, 'PendingUploadExpiry', { projectRoot, environment, resources, entry: 'lambdas/pending-upload-expiry.ts', access: { artifacts: 'read', deletePendingUploads: true }, rate: Duration.hours(1), timeout: Duration.minutes(10), description: '…', failureMeaning: '…' });
 */
export class ScheduledJob extends Construct {
  public readonly jobFunction: AegisFunction;
  public readonly rule: events.Rule;
  public readonly deadLetterQueue: sqs.Queue;
  /** In alarm while failed runs wait in the dead-letter queue. */
  public readonly failureAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ScheduledJobProps) {
    super(scope, id);
    const rate = props.rate;
    if (rate.toSeconds() < 60 || rate.toSeconds() % 60 !== 0) throw new Error('rate must be a whole number of minutes, at least one');
    const retryAttempts = props.retryAttempts ?? 2;
    if (!Number.isInteger(retryAttempts) || retryAttempts < 0 || retryAttempts > 2) throw new Error('retryAttempts must be 0, 1 or 2');

    this.jobFunction = new AegisFunction(this, props.functionId ?? 'job', {
      entry: props.entry,
      handler: 'scheduled',
      projectRoot: props.projectRoot,
      description: props.description,
      environment: props.environment,
      timeout: props.timeout,
      ...(props.bundleFiles && { bundleFiles: props.bundleFiles }),
      ...(props.reservedConcurrentExecutions !== undefined && { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
    });
    grantAccess(this.jobFunction, props.access, props.resources);

    ({ queue: this.deadLetterQueue, alarm: this.failureAlarm } = failureQueue(
      this,
      `the ${id} schedule (EventBridge target and Lambda on-failure destination)`,
      props.failureMeaning,
    ));

    // Function errors: Lambda retries the asynchronous invocation, then records it here.
    this.jobFunction.function.configureAsyncInvoke({
      retryAttempts,
      maxEventAge: Duration.hours(1),
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });

    // Delivery errors: EventBridge retries invoking the function, then sends the event here.
    this.rule = new events.Rule(this, 'Rule', {
      description: props.ruleDescription ?? `${props.description} (every ${rate.toHumanString()})`,
      schedule: events.Schedule.rate(rate),
      targets: [
        new targets.LambdaFunction(this.jobFunction.function, {
          retryAttempts,
          maxEventAge: Duration.hours(1),
          deadLetterQueue: this.deadLetterQueue,
        }),
      ],
    });
  }
}

export interface AuditArchiveScheduleProps {
  /** Absolute path of the repository root. */
  readonly projectRoot: string;
  /** Environment shared by every function (configuration read by `lib/platform/config.ts`). */
  readonly environment: Readonly<Record<string, string>>;
  readonly resources: AccessResources;
  /**
   * The archive handler file, relative to `projectRoot`; it exports `scheduled`.
   *
   * @default 'lambdas/audit-archive.ts'
   */
  readonly entry?: string;
  /** @default Duration.minutes(5) */
  readonly rate?: Duration;
  /** @default 2 */
  readonly retryAttempts?: number;
  /** @default Duration.minutes(4), under the default rate so runs rarely overlap (overlapping runs are safe) */
  readonly timeout?: Duration;
}

/**
 * Archives the audit chain on a schedule (the `audit-archive` job): a {@link ScheduledJob} with
 * the same grants as the `auditArchive` route (database, audit-archive objects, kms:Sign on the
 * audit key).
 *
 * @example
 * const schedule = new AuditArchiveSchedule(this, 'AuditArchiveSchedule', { projectRoot, environment, resources });
 * schedule.archiveFunction.function.node.addDependency(migrations.resource);
 */
export class AuditArchiveSchedule extends ScheduledJob {
  public readonly archiveFunction: AegisFunction;

  constructor(scope: Construct, id: string, props: AuditArchiveScheduleProps) {
    super(scope, id, {
      projectRoot: props.projectRoot,
      environment: props.environment,
      resources: props.resources,
      entry: props.entry ?? 'lambdas/audit-archive.ts',
      functionId: 'archive',
      access: ROUTE_ACCESS.auditArchive,
      description: 'Scheduled audit archiving: exports events not yet archived as Object-Lock segments with signed checkpoints',
      rate: props.rate ?? Duration.minutes(5),
      ruleDescription: `Archive new audit events every ${(props.rate ?? Duration.minutes(5)).toHumanString()}`,
      ...(props.retryAttempts !== undefined && { retryAttempts: props.retryAttempts }),
      timeout: props.timeout ?? Duration.minutes(4),
      failureMeaning:
        'Audit archive runs failed after retries and wait in the dead-letter queue: the archive falls behind the database until they are looked at.',
    });
    this.archiveFunction = this.jobFunction;
  }
}
