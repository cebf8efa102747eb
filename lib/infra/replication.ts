import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge } from './acknowledge.js';
import { logicalIdOf } from './pin.js';

/**
 * Where the artifact and audit-archive buckets replicate to, in another region. The replica
 * buckets must exist already, be versioned with Object Lock enabled (S3 refuses to replicate
 * Object-Lock objects into a bucket without it), and, when they belong to another account,
 * let this stack's replication role replicate into them; the key policy of the replica key
 * must let the role encrypt with it.
 */
export interface ReplicationTarget {
  /** Region of the replica buckets and key, e.g. `eu-central-1`. */
  readonly region: string;
  /** ARN of the replica of the artifact bucket: `arn:aws:s3:::name`. */
  readonly artifactBucketArn: string;
  /** ARN of the replica of the audit-archive bucket. */
  readonly auditArchiveBucketArn: string;
  /** ARN of the symmetric KMS key, in `region`, that S3 encrypts replicas with (both sources are SSE-KMS). */
  readonly kmsKeyArn: string;
}

export interface CrossRegionReplicationProps {
  readonly target: ReplicationTarget;
  readonly artifactBucket: s3.Bucket;
  readonly auditArchiveBucket: s3.Bucket;
  /** The key both source buckets are encrypted with. */
  readonly sourceKey: kms.IKey;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const BUCKET_ARN = /^arn:aws(-[a-z]+)*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const KEY_ARN = /^arn:aws(-[a-z]+)*:kms:([a-z0-9-]+):\d{12}:key\/[A-Za-z0-9-]{1,128}$/;

/** Checks a {@link ReplicationTarget}, throwing with what is wrong. */
export function checkReplicationTarget(t: ReplicationTarget): void {
  if (!REGION.test(t.region)) throw new Error(`replica region ${t.region} is not a region name`);
  for (const [name, arn] of [
    ['artifact', t.artifactBucketArn],
    ['audit-archive', t.auditArchiveBucketArn],
  ] as const) {
    if (!BUCKET_ARN.test(arn)) throw new Error(`replica ${name} bucket ${arn} is not an S3 bucket ARN (arn:aws:s3:::name)`);
  }
  if (t.artifactBucketArn === t.auditArchiveBucketArn)
    throw new Error('the artifact and audit-archive buckets need replica buckets of their own');
  const key = KEY_ARN.exec(t.kmsKeyArn);
  if (!key)
    throw new Error(
      `replica KMS key ${t.kmsKeyArn} is not a key ARN (arn:aws:kms:region:account:key/id; an alias would resolve in the wrong account)`,
    );
  if (key[2] !== t.region) throw new Error(`replica KMS key ${t.kmsKeyArn} is not in the replica region ${t.region}`);
}

/**
 * Cross-region replication of the artifact and audit-archive buckets for disaster recovery:
 * a replication role with exactly the permissions S3 replication needs, and a
 * `ReplicationConfiguration` on each source bucket (the L1 resource) that replicates every
 * new object version, SSE-KMS encrypted ones included, re-encrypted with the replica key.
 * Object-Lock retention travels with each version. Delete markers are not replicated, so a
 * delete in the source never hides data in the replica. Objects written before replication
 * was turned on need an S3 Batch Replication job.
 *
 * @example
 * new CrossRegionReplication(this, 'Replication', { target, artifactBucket, auditArchiveBucket, sourceKey: keys.dataKey });
 */
export class CrossRegionReplication extends Construct {
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: CrossRegionReplicationProps) {
    super(scope, id);
    const { target } = props;
    checkReplicationTarget(target);

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('s3.amazonaws.com'),
      description: `Aegis: replicates the artifact and audit-archive buckets to ${target.region}`,
    });

    const pairs = [
      { source: props.artifactBucket, destination: target.artifactBucketArn },
      { source: props.auditArchiveBucket, destination: target.auditArchiveBucketArn },
    ];
    const sources = pairs.map((p) => p.source);
    const destinations = pairs.map((p) => p.destination);
    // With S3 Bucket Keys the encryption context is the bucket ARN, without them the object ARN.
    const encryptionContext = (arns: string[]) => arns.flatMap((arn) => [arn, `${arn}/*`]);

    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetReplicationConfiguration', 's3:ListBucket'],
        resources: sources.map((b) => b.bucketArn),
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          's3:GetObjectVersionForReplication',
          's3:GetObjectVersionAcl',
          's3:GetObjectVersionTagging',
          's3:GetObjectRetention',
          's3:GetObjectLegalHold',
        ],
        resources: sources.map((b) => b.arnForObjects('*')),
      }),
    );
    // No s3:ReplicateDelete: delete markers are not replicated.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ReplicateObject', 's3:ReplicateTags'],
        resources: destinations.map((arn) => `${arn}/*`),
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [props.sourceKey.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `s3.${Aws.REGION}.amazonaws.com` },
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': encryptionContext(sources.map((b) => b.bucketArn)) },
        },
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [target.kmsKeyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `s3.${target.region}.amazonaws.com` },
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': encryptionContext(destinations) },
        },
      }),
    );

    for (const { source, destination } of pairs) {
      const cfn = source.node.defaultChild as s3.CfnBucket;
      cfn.replicationConfiguration = {
        role: this.role.roleArn,
        rules: [
          {
            id: 'disaster-recovery',
            status: 'Enabled',
            priority: 0,
            // An empty filter selects every object (and makes this a V2 rule, which needs one).
            filter: { prefix: '' },
            deleteMarkerReplication: { status: 'Disabled' },
            sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: 'Enabled' } },
            destination: { bucket: destination, encryptionConfiguration: { replicaKmsKeyId: target.kmsKeyArn } },
          },
        ],
      };
      acknowledge(this.role, {
        id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(source)}.Arn>/*]`,
        reason:
          'S3 replication reads every new object version of the source bucket, whatever its key, so the role covers all objects of this one bucket.',
      });
      acknowledge(this.role, {
        id: `AwsSolutions-IAM5[Resource::${destination}/*]`,
        reason:
          'S3 replication writes every replicated version into the replica bucket under its source key, so the role covers all objects of this one replica bucket.',
      });
    }
  }
}
