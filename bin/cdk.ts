#!/usr/bin/env node
/**
 * The CDK app: `cdk synth -c env=<name>` (default dev). The only place that reads CDK
 * context; everything else is configured through props.
 *
 * Context: `env` (environment name), `roleMap` (JSON object or string: IAM principal ARN →
 * Aegis role), `auditRetentionDays` (default COMPLIANCE retention of the audit archive), and
 * for cross-region replication of the buckets all four of `replicaRegion`,
 * `replicaArtifactBucketArn`, `replicaAuditBucketArn` and `replicaKmsKeyArn` (none: no
 * replication), `sentinelnetUrl` (SentinelNet for policy decisions; none: the Cedar
 * policies bundled from `policies/`), and for mutual TLS on a custom domain all three of
 * `domainName`, `certificateArn` and `mtlsTruststoreUri`, optionally `mtlsTruststoreVersion`
 * (none: the execute-api endpoint, no mutual TLS), `alarmEmail` (subscribed to the alarm
 * topic; none: subscribe to the `AlarmTopicArn` output), `deployNonce` (a new value runs the
 * migrations again on a deploy that changes nothing else).
 */
import { App, Duration, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Role } from '../lib/kernel/identity.js';
import { AegisStack } from '../lib/infra/aegis-stack.js';
import { mutualTlsFromContext } from '../lib/infra/mutual-tls.js';
import type { ReplicationTarget } from '../lib/infra/replication.js';

const app = new App();

const envName = String(app.node.tryGetContext('env') ?? 'dev');
const rawRoleMap: unknown = app.node.tryGetContext('roleMap') ?? {};
let iamRoleMap: unknown;
try {
  iamRoleMap = typeof rawRoleMap === 'string' ? JSON.parse(rawRoleMap) : rawRoleMap;
} catch {
  throw new Error('context roleMap is not JSON');
}
if (typeof iamRoleMap !== 'object' || iamRoleMap === null || Array.isArray(iamRoleMap)) {
  throw new Error('context roleMap must be a JSON object of principal ARN → role');
}
const auditRetentionDays: unknown = app.node.tryGetContext('auditRetentionDays');
if (auditRetentionDays !== undefined && !/^[1-9][0-9]{0,4}$/.test(String(auditRetentionDays))) {
  throw new Error('context auditRetentionDays must be a whole number of days');
}

const rawDeployNonce: unknown = app.node.tryGetContext('deployNonce');
const deployNonce = rawDeployNonce === undefined || rawDeployNonce === '' ? undefined : String(rawDeployNonce);
const rawAlarmEmail: unknown = app.node.tryGetContext('alarmEmail');
const alarmEmail = rawAlarmEmail === undefined || rawAlarmEmail === '' ? undefined : String(rawAlarmEmail);
if (alarmEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alarmEmail))
  throw new Error(`alarmEmail ${alarmEmail} is not an email address`);
const rawSentinelnetUrl: unknown = app.node.tryGetContext('sentinelnetUrl');
const sentinelnetUrl = rawSentinelnetUrl === undefined || rawSentinelnetUrl === '' ? undefined : String(rawSentinelnetUrl);

const REPLICATION_CONTEXT = {
  region: 'replicaRegion',
  artifactBucketArn: 'replicaArtifactBucketArn',
  auditArchiveBucketArn: 'replicaAuditBucketArn',
  kmsKeyArn: 'replicaKmsKeyArn',
} as const satisfies Record<keyof ReplicationTarget, string>;
const replicationContext = Object.entries(REPLICATION_CONTEXT).map(
  ([prop, key]) => [prop, key, app.node.tryGetContext(key) as unknown] as const,
);
const givenReplication = replicationContext.filter(([, , value]) => value !== undefined && value !== '');
if (givenReplication.length > 0 && givenReplication.length < replicationContext.length) {
  const missing = replicationContext.filter(([, , value]) => value === undefined || value === '').map(([, key]) => key);
  throw new Error(`cross-region replication needs context ${missing.join(', ')} as well (or none of the replica* keys)`);
}
const replication = givenReplication.length
  ? (Object.fromEntries(replicationContext.map(([prop, , value]) => [prop, String(value)])) as unknown as ReplicationTarget)
  : undefined;

// All of domainName, certificateArn and mtlsTruststoreUri, or none; shapes checked by the stack.
const mutualTls = mutualTlsFromContext((key) => app.node.tryGetContext(key));

new AegisStack(app, `aegis-${envName}`, {
  envName,
  // Shape checked here, entries (ARNs, role names) by the stack.
  iamRoleMap: iamRoleMap as Record<string, Role>,
  ...(auditRetentionDays !== undefined && { auditRetention: Duration.days(Number(auditRetentionDays)) }),
  ...(replication && { replication }),
  ...(sentinelnetUrl !== undefined && { sentinelnetUrl }),
  ...(alarmEmail !== undefined && { alarmEmail }),
  ...(deployNonce !== undefined && { deployNonce }),
  ...(mutualTls && { mutualTls }),
  description: `Aegis model registry (${envName}; ${replication ? `buckets replicated to ${replication.region}` : 'no cross-region bucket replication'})`,
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
