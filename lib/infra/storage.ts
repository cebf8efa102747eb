import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PENDING_UPLOAD_TAG } from '../platform/adapters/object-store/pending-upload-tag.js';
import { SEGMENT_PREFIX } from '../modules/serving/segments.js';
import { pin } from './pin.js';

/** Intelligent-Tiering does not tier objects under 128 KiB, yet charges them monitoring. */
const ARTIFACT_TIERING_MIN_BYTES = 128 * 1024;

export interface AegisStorageProps {
  /** Customer managed key for the artifact and audit-archive buckets. */
  readonly encryptionKey: kms.IKey;
  /**
   * Default COMPLIANCE retention of every object in the audit archive. Nobody, root
   * included, can delete an object or shorten its retention before it runs out.
   *
   * @default Duration.days(2557) (7 years)
   */
  readonly auditRetention?: Duration;
  /**
   * How long server access logs are kept.
   *
   * @default Duration.days(365)
   */
  readonly accessLogExpiration?: Duration;
  /**
   * How long an upload may wait for its registration: versions still tagged
   * `aegis-upload=pending` are expired after it (whole days; the scheduled job removes them
   * sooner, this rule catches what the database no longer knows).
   *
   * @default Duration.days(1)
   */
  readonly pendingUploadExpiry?: Duration;
  /**
   * The serving retention horizon (`AEGIS_SERVING_RETENTION_DAYS`): the drift bucket expires
   * input segments (`serving-inputs/`) this long after they were written (whole days, 1 to 3650).
   *
   * @default Duration.days(14)
   */
  readonly servingRetention?: Duration;
}

/** The prefix serving writes input segments under (`lib/modules/serving/segments.ts`), with its slash. */
export const DRIFT_INPUTS_PREFIX = `${SEGMENT_PREFIX}/`;

/**
 * The environment's buckets: model artifacts (Object Lock on, retention set per object by
 * the app), the audit archive (Object Lock COMPLIANCE by default), the drift store (serving's
 * sampled inputs, expired after the serving retention horizon), and the bucket the others send
 * their server access logs to. All are versioned, TLS-only, private and retained.
 *
 * @example
 * const storage = new AegisStorage(this, 'Storage', { encryptionKey: keys.dataKey });
 * storage.artifactBucket.bucketName;
 */
export class AegisStorage extends Construct {
  /** Server access logs of the other two buckets. */
  public readonly accessLogBucket: s3.Bucket;
  /** Model artifacts; `MODEL_REGISTRY_S3_BUCKET`. */
  public readonly artifactBucket: s3.Bucket;
  /** Archived audit chain segments; `AEGIS_AUDIT_ARCHIVE_BUCKET`. */
  public readonly auditArchiveBucket: s3.Bucket;
  /** Serving's input segments for drift detection (`serving-inputs/`); `DRIFT_S3_BUCKET` of the serving function. */
  public readonly driftBucket: s3.Bucket;
  /** The serving retention horizon the drift bucket expires segments on (`AEGIS_SERVING_RETENTION_DAYS`). */
  public readonly servingRetentionDays: number;

  constructor(scope: Construct, id: string, props: AegisStorageProps) {
    super(scope, id);
    const auditRetention = props.auditRetention ?? Duration.days(2557);
    if (auditRetention.toDays() < 1) throw new Error('auditRetention must be at least one day');
    const accessLogExpiration = props.accessLogExpiration ?? Duration.days(365);
    if (accessLogExpiration.toDays() < 1) throw new Error('accessLogExpiration must be at least one day');
    const pendingUploadExpiry = props.pendingUploadExpiry ?? Duration.days(1);
    if (pendingUploadExpiry.toHours() < 24 || pendingUploadExpiry.toHours() % 24 !== 0)
      throw new Error('pendingUploadExpiry must be a whole number of days, at least one');
    const servingRetentionDays = (props.servingRetention ?? Duration.days(14)).toHours() / 24;
    if (!Number.isInteger(servingRetentionDays) || servingRetentionDays < 1 || servingRetentionDays > 3650)
      throw new Error('servingRetention must be a whole number of days from 1 to 3650 (AEGIS_SERVING_RETENTION_DAYS)');
    this.servingRetentionDays = servingRetentionDays;

    const common = {
      versioned: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
    } as const;

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogBucket', {
      ...common,
      // S3 server access logging cannot deliver into a bucket encrypted with a customer managed key.
      encryption: s3.BucketEncryption.S3_MANAGED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: accessLogExpiration, noncurrentVersionExpiration: Duration.days(30) }],
    });
    pin(this.accessLogBucket, 'AccessLogBucket');

    const encrypted = {
      ...common,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.encryptionKey,
      // One data key per bucket instead of a KMS call per object.
      bucketKeyEnabled: true,
      serverAccessLogsBucket: this.accessLogBucket,
      objectLockEnabled: true,
    } as const;

    this.artifactBucket = new s3.Bucket(this, 'ArtifactBucket', {
      ...encrypted,
      // No default retention: the registry sets COMPLIANCE retention on each version it keeps.
      serverAccessLogsPrefix: 'artifacts/',
      lifecycleRules: [
        {
          id: 'tier-artifacts',
          objectSizeGreaterThan: ARTIFACT_TIERING_MIN_BYTES,
          transitions: [{ storageClass: s3.StorageClass.INTELLIGENT_TIERING, transitionAfter: Duration.days(30) }],
        },
        {
          id: 'archive-noncurrent-versions',
          noncurrentVersionTransitions: [{ storageClass: s3.StorageClass.GLACIER, transitionAfter: Duration.days(30) }],
          // A multipart upload (POST /v1/registry/uploads with multipart) is started with its
          // upload: once the upload can no longer be registered, its parts are dropped (the expiry
          // job may not abort on AWS, where no function deletes; S3 counts from the initiation).
          abortIncompleteMultipartUploadAfter: pendingUploadExpiry,
        },
        {
          // Uploads never registered: the presigned PUT tags them pending, registration re-tags
          // them `registered` (after setting retention). Not under retention, so expiry removes them for good:
          // the current version gets a delete marker, then the noncurrent version goes a day later.
          id: 'expire-pending-uploads',
          prefix: 'artifacts/',
          tagFilters: { [PENDING_UPLOAD_TAG.key]: PENDING_UPLOAD_TAG.value },
          expiration: pendingUploadExpiry,
          noncurrentVersionExpiration: Duration.days(1),
        },
        {
          // The delete markers left once an expired upload's last version is gone.
          id: 'remove-expired-delete-markers',
          prefix: 'artifacts/',
          expiredObjectDeleteMarker: true,
        },
      ],
    });
    pin(this.artifactBucket, 'ArtifactBucket');
    // The L2 renders this size as a number; CloudFormation's schema declares a string.
    (this.artifactBucket.node.defaultChild as s3.CfnBucket).addPropertyOverride(
      'LifecycleConfiguration.Rules.0.ObjectSizeGreaterThan',
      String(ARTIFACT_TIERING_MIN_BYTES),
    );

    this.auditArchiveBucket = new s3.Bucket(this, 'AuditArchiveBucket', {
      ...encrypted,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(auditRetention),
      serverAccessLogsPrefix: 'audit-archive/',
      lifecycleRules: [
        {
          id: 'archive-audit-segments',
          // Instant retrieval: verifying an old chain segment must not wait for a restore.
          transitions: [{ storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(90) }],
          noncurrentVersionTransitions: [{ storageClass: s3.StorageClass.GLACIER, transitionAfter: Duration.days(30) }],
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
    pin(this.auditArchiveBucket, 'AuditArchiveBucket');

    // No Object Lock (segments must expire), but versioned like the others: serving may only
    // put, so a new object with a taken key cannot destroy the segment it replaces (the old
    // version stays until the noncurrent rule removes it a day later).
    this.driftBucket = new s3.Bucket(this, 'DriftBucket', {
      ...encrypted,
      objectLockEnabled: false,
      serverAccessLogsPrefix: 'drift/',
      lifecycleRules: [
        {
          // S3 rounds an expiry up to the next midnight UTC: a segment stays at most a day past the horizon.
          id: 'expire-serving-inputs',
          prefix: DRIFT_INPUTS_PREFIX,
          expiration: Duration.days(servingRetentionDays),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        {
          // The delete markers expiry leaves once a segment's last version is gone.
          id: 'remove-expired-delete-markers',
          prefix: DRIFT_INPUTS_PREFIX,
          expiredObjectDeleteMarker: true,
        },
      ],
    });
    pin(this.driftBucket, 'DriftBucket');
  }
}
