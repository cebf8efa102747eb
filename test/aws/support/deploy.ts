import { randomBytes } from 'node:crypto';
import { CreateEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CreateBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketVersioningCommand,
  PutObjectLockConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createMotoSecret } from '../../support/moto-secrets.js';
import type { Deployed } from './resolve.js';
import type { Assembly } from './synth.js';

export interface EmulatorEndpoints {
  s3: string;
  kms: string;
  secretsmanager: string;
  /** EventBridge: the stack's bus is created there */
  events: string;
  region: string;
  accountId: string;
  /** the cluster's master user (the PostgreSQL server's): its RDS-managed secret gets these */
  masterLogin: { username: string; password: string };
}

/** What the stack's own secrets hold once deployed: `{ username, password }`, by logical id. */
export type DeployedSecrets = Record<string, { arn: string; value: Record<string, string> }>;

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/**
 * "Deploys" the stateful resources of the synthesized template onto moto_server, from the
 * template's own properties (Object Lock and its default retention, versioning, encryption,
 * key specs), and returns what `Ref` / `Fn::GetAtt` give for them. moto has no Ed25519
 * keys: an `ECC_NIST_EDWARDS25519` signing key becomes an `ECC_NIST_P256` one (Aegis signs
 * with either; production refuses P-256 outside tests).
 */
export async function deployStatefulResources(
  assembly: Assembly,
  ep: EmulatorEndpoints,
): Promise<Deployed & { buckets: Record<string, string>; keySpecs: Record<string, string>; secrets: DeployedSecrets }> {
  const s3 = new S3Client({ endpoint: ep.s3, region: ep.region, forcePathStyle: true, credentials });
  const kms = new KMSClient({ endpoint: ep.kms, region: ep.region, credentials });
  const d: Deployed & { buckets: Record<string, string>; keySpecs: Record<string, string>; secrets: DeployedSecrets } = {
    region: ep.region,
    accountId: ep.accountId,
    stackName: assembly.stackName,
    refs: {},
    attrs: {},
    buckets: {},
    keySpecs: {},
    secrets: {},
  };
  const arn = (service: string, resource: string) => `arn:aws:${service}:${ep.region}:${ep.accountId}:${resource}`;
  const resources = Object.entries(assembly.template.Resources);

  for (const [id, r] of resources.filter(([, r]) => r.Type === 'AWS::KMS::Key')) {
    const p = r.Properties ?? {};
    const spec = p.KeySpec === 'ECC_NIST_EDWARDS25519' ? 'ECC_NIST_P256' : (p.KeySpec ?? 'SYMMETRIC_DEFAULT');
    const key = (
      await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: p.KeyUsage ?? 'ENCRYPT_DECRYPT', Description: p.Description }))
    ).KeyMetadata!;
    d.refs[id] = key.KeyId!;
    d.attrs[`${id}.Arn`] = key.Arn!;
    d.keySpecs[id] = spec;
  }
  for (const [id, r] of resources.filter(([, r]) => r.Type === 'AWS::S3::Bucket')) {
    const p = r.Properties ?? {};
    const name = `${id.toLowerCase().slice(0, 40)}-${randomBytes(4).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: p.ObjectLockEnabled === true }));
    if (p.VersioningConfiguration?.Status === 'Enabled' || p.ObjectLockEnabled)
      await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
    const retention = p.ObjectLockConfiguration?.Rule?.DefaultRetention;
    if (retention) {
      await s3.send(
        new PutObjectLockConfigurationCommand({
          Bucket: name,
          ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: retention } },
        }),
      );
    }
    const sse = p.BucketEncryption?.ServerSideEncryptionConfiguration?.[0];
    if (sse) {
      const kmsKey = sse.ServerSideEncryptionByDefault?.KMSMasterKeyID;
      const keyId = kmsKey?.['Fn::GetAtt'] ? d.attrs[`${kmsKey['Fn::GetAtt'][0]}.Arn`] : undefined;
      await s3.send(
        new PutBucketEncryptionCommand({
          Bucket: name,
          ServerSideEncryptionConfiguration: {
            Rules: [
              {
                BucketKeyEnabled: sse.BucketKeyEnabled,
                ApplyServerSideEncryptionByDefault: {
                  SSEAlgorithm: sse.ServerSideEncryptionByDefault.SSEAlgorithm,
                  ...(keyId && { KMSMasterKeyID: keyId }),
                },
              },
            ],
          },
        }),
      );
    }
    d.refs[id] = name;
    d.attrs[`${id}.Arn`] = `arn:aws:s3:::${name}`;
    d.buckets[id] = name;
  }
  const run = randomBytes(4).toString('hex');
  for (const [id, r] of resources.filter(([, r]) => r.Type === 'AWS::SecretsManager::Secret')) {
    // GenerateSecretString as Secrets Manager does it; PostgreSQL roles are per server and test
    // runs share one, so each run's user name gets a suffix of its own
    const g = r.Properties?.GenerateSecretString ?? {};
    const value: Record<string, string> = JSON.parse(g.SecretStringTemplate ?? '{}');
    if (value.username) value.username = `${value.username}_${run}`;
    if (g.GenerateStringKey)
      value[g.GenerateStringKey] = randomBytes(48)
        .toString('base64url')
        .replace(/[-_]/g, '')
        .slice(0, g.PasswordLength ?? 32);
    const secretArn = await createMotoSecret(ep.secretsmanager, ep.region, { name: `${id}-${run}`, value: JSON.stringify(value) });
    d.refs[id] = secretArn;
    d.secrets[id] = { arn: secretArn, value };
  }
  for (const [id, r] of resources) {
    if (r.Type === 'AWS::RDS::DBCluster') {
      d.refs[id] = `${id.toLowerCase()}-e2e`;
      d.attrs[`${id}.Arn`] = arn('rds', `cluster:${d.refs[id]}`);
      // ManageMasterUserPassword: RDS keeps the master user's credentials in a secret of its own
      d.attrs[`${id}.MasterUserSecret.SecretArn`] = await createMotoSecret(ep.secretsmanager, ep.region, {
        name: `${id}-master-${run}`,
        value: JSON.stringify(ep.masterLogin),
      });
    } else if (r.Type === 'AWS::Lambda::Function') {
      d.refs[id] = id;
      d.attrs[`${id}.Arn`] = arn('lambda', `function:${id}`);
    } else if (r.Type === 'AWS::Events::EventBus') {
      const name = r.Properties.Name as string;
      await new EventBridgeClient({ endpoint: ep.events, region: ep.region, credentials }).send(new CreateEventBusCommand({ Name: name }));
      d.refs[id] = name;
      d.attrs[`${id}.Arn`] = arn('events', `event-bus/${name}`);
      d.attrs[`${id}.Name`] = name;
    } else if (r.Type === 'AWS::SQS::Queue') {
      d.refs[id] = `${ep.s3}/${ep.accountId}/${id}`;
      d.attrs[`${id}.Arn`] = arn('sqs', id);
    }
  }
  s3.destroy();
  kms.destroy();
  return d;
}
