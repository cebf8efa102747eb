import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { acknowledge } from './acknowledge.js';
import type { AegisFunction } from './aegis-function.js';
import { logicalIdOf } from './pin.js';
import { DRIFT_INPUTS_PREFIX } from './storage.js';

/** Where a drift run keeps its plan and its shards' counts (`drift-runs/<runId>/…`, `lib/modules/drift/records.ts`). */
export const DRIFT_RUNS_PREFIX = 'drift-runs/';
/** Where drift reports are stored (`drift-reports/<model>/<env>/<reportId>.json`, the records service). */
export const DRIFT_REPORTS_PREFIX = 'drift-reports/';

/**
 * The drift bucket by prefix, as one function may use it (`RouteAccess.driftStore`). `read`:
 * list the prefix and get its objects; `write`: also put them (never tag, retain or delete).
 */
export interface DriftStoreAccess {
  /** Serving's input segments (`serving-inputs/`): the drift step counts them. */
  readonly inputs?: 'read';
  /** A run's plan and shard partials (`drift-runs/`). */
  readonly runs?: 'read' | 'write';
  /** The stored reports (`drift-reports/`). */
  readonly reports?: 'read' | 'write';
}

const PREFIXES = { inputs: DRIFT_INPUTS_PREFIX, runs: DRIFT_RUNS_PREFIX, reports: DRIFT_REPORTS_PREFIX } as const;

const WHY: Record<keyof DriftStoreAccess, string> = {
  inputs: 'Input segments are keyed by model, environment, hour and a random id chosen at run time',
  runs: 'A run keeps its plan and shard counts under its run id, chosen at run time',
  reports: 'Reports are keyed by model, environment and a report id chosen at run time',
};

/**
 * Grants `fn` the drift bucket's prefixes `access` names and nothing else: ListBucket limited to
 * those prefixes (s3:prefix), GetObject on each, PutObject on the writable ones; KMS through S3
 * only, with the bucket's encryption context (the bucket key), so the role cannot use the data
 * key for anything but this bucket.
 */
export function grantDriftStore(fn: AegisFunction, access: DriftStoreAccess, bucket: s3.IBucket, dataKey: kms.IKey): void {
  const areas = (Object.keys(PREFIXES) as (keyof DriftStoreAccess)[]).filter((k) => access[k] !== undefined);
  if (areas.length === 0) return;
  const prefixes = areas.map((k) => PREFIXES[k]);
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': prefixes.map((p) => `${p}*`) } },
    }),
  );
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: prefixes.map((p) => bucket.arnForObjects(`${p}*`)) }),
  );
  const writable = areas.filter((k) => access[k] === 'write').map((k) => PREFIXES[k]);
  if (writable.length > 0)
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: writable.map((p) => bucket.arnForObjects(`${p}*`)) }),
    );
  grantViaS3(fn, bucket, dataKey, writable.length > 0 ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt']);
  for (const k of areas)
    acknowledge(fn.role, {
      id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(bucket)}.Arn>/${PREFIXES[k]}*]`,
      reason: `${WHY[k]}, so the object permissions cover the ${PREFIXES[k]} prefix of the drift bucket.`,
    });
}

/** The data key for `bucket`'s objects only: through S3, with the bucket-key encryption context S3 uses (the bucket's ARN). */
export function grantViaS3(fn: AegisFunction, bucket: s3.IBucket, dataKey: kms.IKey, actions: string[]): void {
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions,
      resources: [dataKey.keyArn],
      conditions: {
        StringEquals: {
          'kms:ViaService': `s3.${Stack.of(fn).region}.amazonaws.com`,
          'kms:EncryptionContext:aws:s3:arn': bucket.bucketArn,
        },
      },
    }),
  );
}

/** states:StartExecution on the drift state machine only (`RouteAccess.startDriftRuns`); its ARN as `AEGIS_DRIFT_STATE_MACHINE_ARN`. */
export function grantStartDriftRuns(fn: AegisFunction, machine: sfn.IStateMachine): void {
  fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [machine.stateMachineArn] }));
  fn.function.addEnvironment(DRIFT_STATE_MACHINE_ARN_VARIABLE, machine.stateMachineArn);
}

/** The variable the drift composition starts runs on (`lib/platform/config-env.ts`). */
export const DRIFT_STATE_MACHINE_ARN_VARIABLE = 'AEGIS_DRIFT_STATE_MACHINE_ARN';
/** The variable naming the drift bucket, given to exactly the functions granted some of it. */
export const DRIFT_BUCKET_VARIABLE = 'DRIFT_S3_BUCKET';
