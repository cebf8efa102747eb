import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { acknowledge } from './acknowledge.js';
import type { AegisFunction } from './aegis-function.js';
import { logicalIdOf } from './pin.js';
import type { RegistryDatabase } from './registry-database.js';
import { DRIFT_BUCKET_VARIABLE, grantDriftStore, grantStartDriftRuns, grantViaS3, type DriftStoreAccess } from './drift-access.js';
import { DRIFT_INPUTS_PREFIX } from './storage.js';
import { grantStartRegistrations } from './workflow-access.js';

/**
 * Where the audit archive keeps its objects (`audit/segments/…`, `audit/checkpoints/…`, see
 * `lib/platform/audit/trail.ts`); archive object permissions cover this prefix only.
 */
export const AUDIT_ARCHIVE_PREFIX = 'audit/';
/** Where the signed audit head checkpoints live (`lib/platform/audit/head.ts`), inside {@link AUDIT_ARCHIVE_PREFIX}. */
export const AUDIT_HEADS_PREFIX = 'audit/heads/';

/** What one function may touch beyond the database (which every function reads and writes). */
export interface RouteAccess {
  /**
   * The artifact bucket. `read`: get/head/tag reads; `write`: also put, tag and set
   * retention (never delete), and multipart uploads; `commit`: `write` without multipart
   * uploads (the register step: sidecars put, retention set, the pending tag cleared).
   *
   * @default - no access
   */
  readonly artifacts?: 'read' | 'commit' | 'write';
  /**
   * The audit-archive bucket, objects under {@link AUDIT_ARCHIVE_PREFIX}: `read` lists and
   * reads segments and checkpoints; `write` also puts them with their retention (never delete).
   *
   * @default - no access
   */
  readonly auditArchive?: 'read' | 'write';
  /**
   * The signed audit head checkpoints only: lists, reads and puts (with retention, never
   * deletes) objects under {@link AUDIT_HEADS_PREFIX} of the audit-archive bucket; no segment
   * or segment checkpoint of the archive.
   *
   * @default false
   */
  readonly auditHeadCheckpoints?: boolean;
  /** kms:Sign on the manifest signing key. */
  readonly signManifests?: boolean;
  /** kms:Sign on the audit signing key: the function appends audit events or signs archive checkpoints. */
  readonly signAuditEvents?: boolean;
  /** kms:DescribeKey and kms:GetPublicKey on both signing keys (adopting a key into the ring). */
  readonly describeSigningKeys?: boolean;
  /**
   * states:StartExecution on exactly the two rollout state machines (promotion and
   * rollback): the function starts a rollout once a promotion may go ahead. Needs
   * {@link AccessResources.rolloutStateMachines}.
   */
  readonly startRollouts?: boolean;
  /**
   * The drift bucket, objects under `serving-inputs/`: `write` puts input segments there and
   * nothing else (s3:PutObject only: no read, list, tag or delete; kms:GenerateDataKey on the
   * data key, only as S3 asks for it for that bucket). The serving function writes its sampled
   * inputs; the bucket's lifecycle rule expires them. Needs {@link AccessResources.driftBucket}.
   *
   * @default - no access
   */
  readonly driftInputs?: 'write';
  /**
   * The drift bucket's own prefixes ({@link DriftStoreAccess}): the drift step reads input
   * segments and reads and writes runs and reports; the report route reads reports. Needs
   * {@link AccessResources.driftBucket}.
   *
   * @default - no access
   */
  readonly driftStore?: DriftStoreAccess;
  /**
   * states:StartExecution on exactly the drift state machine, whose ARN the function gets as
   * `AEGIS_DRIFT_STATE_MACHINE_ARN`. Needs {@link AccessResources.driftStateMachine}.
   */
  readonly startDriftRuns?: boolean;
  /** states:StartExecution on exactly the register state machine ({@link AccessResources.registerStateMachine}), as `AEGIS_REGISTER_STATE_MACHINE_ARN`. */
  readonly startRegistrations?: boolean;
}

/** The two Standard state machines a promotion runs as (`statemachines/*.asl.json`). */
export interface RolloutStateMachines {
  readonly promotion: sfn.IStateMachine;
  readonly rollback: sfn.IStateMachine;
}

/** The resources a {@link RouteAccess} grants on. */
export interface AccessResources {
  readonly database: RegistryDatabase;
  readonly artifactBucket: s3.IBucket;
  readonly auditArchiveBucket: s3.IBucket;
  /** The key both buckets are encrypted with. */
  readonly dataKey: kms.IKey;
  readonly manifestSigningKey: kms.IKey;
  readonly auditSigningKey: kms.IKey;
  /**
   * What {@link RouteAccess.startRollouts} grants on.
   *
   * @default - none: granting startRollouts throws
   */
  readonly rolloutStateMachines?: RolloutStateMachines;
  /**
   * What {@link RouteAccess.driftInputs} grants on (encrypted with {@link dataKey}).
   *
   * @default - none: granting driftInputs throws
   */
  readonly driftBucket?: s3.IBucket;
  /**
   * What {@link RouteAccess.startDriftRuns} grants on.
   *
   * @default - none: granting startDriftRuns throws
   */
  readonly driftStateMachine?: sfn.IStateMachine;
  /** What {@link RouteAccess.startRegistrations} grants on. @default - none: granting startRegistrations throws */
  readonly registerStateMachine?: sfn.IStateMachine;
  /**
   * The event dispatcher function: a function that appends audit events
   * ({@link RouteAccess.signAuditEvents}) gets its name as `AEGIS_EVENT_DISPATCH_FUNCTION` and
   * lambda:InvokeFunction on it, to wake it after a commit that enqueued deliveries.
   *
   * @default - none: such functions leave the deliveries to the dispatcher's schedule
   */
  readonly eventDispatch?: lambda.IFunction;
}

/** Object reads the S3 object store makes; retention and legal hold show in HeadObject only with their read permissions. */
const OBJECT_READ = [
  's3:GetObject',
  's3:GetObjectVersion',
  's3:GetObjectTagging',
  's3:GetObjectVersionTagging',
  's3:GetObjectRetention',
  's3:GetObjectLegalHold',
];
/** Writes: (multipart) puts, the sha256 tag, retention. No delete, no governance bypass. */
const OBJECT_WRITE = [
  's3:PutObject',
  's3:PutObjectTagging',
  's3:PutObjectVersionTagging',
  's3:PutObjectRetention',
  's3:AbortMultipartUpload',
];

/**
 * Grants `fn` the database and exactly what `access` names.
 *
 * @example
 * grantAccess(fn, ROUTE_ACCESS.register, { database, artifactBucket, auditArchiveBucket, dataKey, manifestSigningKey, auditSigningKey });
 */
export function grantAccess(fn: AegisFunction, access: RouteAccess, resources: AccessResources): void {
  resources.database.grantDataApiAccess(fn.role);
  grantStartupChecks(fn.role, resources);
  if (access.artifacts) {
    grantObjectAccess(
      fn,
      resources.artifactBucket,
      resources.dataKey,
      access.artifacts,
      '*',
      'Artifacts are stored under keys chosen at run time (model/version/sha256), so object permissions cover every key of this one bucket.',
    );
    if (access.artifacts === 'write') {
      // Multipart uploads (lib/platform/adapters/object-store/s3-multipart.ts): found again by key
      // (ListMultipartUploads), their parts listed for a resumed upload (ListParts). Starting one,
      // presigning UploadPart and completing are s3:PutObject; aborting is s3:AbortMultipartUpload.
      const bucket = resources.artifactBucket;
      fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucketMultipartUploads'], resources: [bucket.bucketArn] }));
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['s3:ListMultipartUploadParts'], resources: [bucket.arnForObjects('*')] }),
      );
    }
  }
  if (access.auditArchive) {
    grantObjectAccess(
      fn,
      resources.auditArchiveBucket,
      resources.dataKey,
      access.auditArchive,
      `${AUDIT_ARCHIVE_PREFIX}*`,
      'Audit segments and checkpoints are keyed by their first sequence number, so object permissions cover the audit/ prefix of the archive bucket.',
    );
  }
  if (access.auditHeadCheckpoints) {
    grantObjectAccess(
      fn,
      resources.auditArchiveBucket,
      resources.dataKey,
      'write',
      `${AUDIT_HEADS_PREFIX}*`,
      'Head checkpoints are keyed by their (inverted) sequence number, so object permissions cover the audit/heads/ prefix of the archive bucket.',
    );
  }
  if (access.signManifests) resources.manifestSigningKey.grant(fn.role, 'kms:Sign');
  if (access.signAuditEvents) {
    resources.auditSigningKey.grant(fn.role, 'kms:Sign');
    if (resources.eventDispatch) grantEventKick(fn, resources.eventDispatch);
  }
  if (access.describeSigningKeys) {
    for (const key of [resources.manifestSigningKey, resources.auditSigningKey]) key.grant(fn.role, 'kms:DescribeKey', 'kms:GetPublicKey');
  }
  if (access.startRollouts) {
    const machines = resources.rolloutStateMachines;
    if (!machines) throw new Error(`${fn.node.path} may start rollouts, but no rollout state machines were given`);
    // Exactly the two state machine ARNs: no other machine, no StopExecution, no reads.
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [machines.promotion.stateMachineArn, machines.rollback.stateMachineArn],
      }),
    );
  }
  grantDrift(fn, access, resources);
}

/**
 * What wakes the event dispatcher after a commit (an asynchronous invocation): its name, and
 * lambda:InvokeFunction on exactly its unqualified ARN (no version, no alias, no other function).
 */
function grantEventKick(fn: AegisFunction, dispatcher: lambda.IFunction): void {
  fn.function.addEnvironment('AEGIS_EVENT_DISPATCH_FUNCTION', dispatcher.functionName);
  fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [dispatcher.functionArn] }));
}

/** The drift bucket (by prefix; its name as `DRIFT_S3_BUCKET`, for these functions only) and the drift state machine. */
function grantDrift(fn: AegisFunction, access: RouteAccess, resources: AccessResources): void {
  if (access.driftInputs || access.driftStore) {
    const bucket = resources.driftBucket;
    if (!bucket) throw new Error(`${fn.node.path} may use the drift store, but no drift bucket was given`);
    fn.function.addEnvironment(DRIFT_BUCKET_VARIABLE, bucket.bucketName);
    if (access.driftInputs) grantDriftInputs(fn, bucket, resources.dataKey);
    if (access.driftStore) grantDriftStore(fn, access.driftStore, bucket, resources.dataKey);
  }
  if (access.startDriftRuns) {
    if (!resources.driftStateMachine) throw new Error(`${fn.node.path} may start drift runs, but no drift state machine was given`);
    grantStartDriftRuns(fn, resources.driftStateMachine);
  }
  if (access.startRegistrations) grantStartRegistrations(fn, resources.registerStateMachine);
}

/**
 * Put-only on the drift bucket's `serving-inputs/` (the S3 object writer makes one PutObject
 * per segment), and a data key from the bucket's KMS key for exactly that bucket: through S3,
 * with the bucket-key encryption context S3 uses (the bucket's ARN), so the role cannot
 * encrypt anything else under the data key.
 */
function grantDriftInputs(fn: AegisFunction, bucket: s3.IBucket, dataKey: kms.IKey): void {
  const keyPattern = `${DRIFT_INPUTS_PREFIX}*`;
  fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [bucket.arnForObjects(keyPattern)] }));
  grantViaS3(fn, bucket, dataKey, ['kms:GenerateDataKey']);
  acknowledge(fn.role, {
    id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(bucket)}.Arn>/${keyPattern}]`,
    reason:
      'Input segments are keyed by model, environment, hour and a random id chosen at run time, so the put permission covers the serving-inputs/ prefix of the drift bucket.',
  });
}

/**
 * What the production startup checks read (`lib/platform/startup-checks.ts`), which every function
 * runs once per cold start: each bucket's Object Lock configuration and each signing key's
 * spec, usage and state. Reads of configuration only, on exactly those resources.
 */
export function grantStartupChecks(
  role: iam.IRole,
  resources: Pick<AccessResources, 'artifactBucket' | 'auditArchiveBucket' | 'manifestSigningKey' | 'auditSigningKey'>,
): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:GetBucketObjectLockConfiguration'],
      resources: [resources.artifactBucket.bucketArn, resources.auditArchiveBucket.bucketArn],
    }),
  );
  for (const key of [resources.manifestSigningKey, resources.auditSigningKey]) key.grant(role, 'kms:DescribeKey');
}

function grantObjectAccess(
  fn: AegisFunction,
  bucket: s3.IBucket,
  dataKey: kms.IKey,
  level: 'read' | 'commit' | 'write',
  keyPattern: string,
  reason: string,
): void {
  const objects = bucket.arnForObjects(keyPattern);
  // ListBucket also makes S3 answer 404 rather than 403 for a key that does not exist.
  fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
  fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: OBJECT_READ, resources: [objects] }));
  // SSE-KMS: reading decrypts with the bucket's key, writing asks it for a data key.
  dataKey.grant(fn.role, 'kms:Decrypt');
  if (level !== 'read') {
    const actions = level === 'commit' ? OBJECT_WRITE.filter((a) => a !== 's3:AbortMultipartUpload') : OBJECT_WRITE;
    fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [objects] }));
    dataKey.grant(fn.role, 'kms:GenerateDataKey');
  }
  acknowledge(fn.role, { id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(bucket)}.Arn>/${keyPattern}]`, reason });
}
