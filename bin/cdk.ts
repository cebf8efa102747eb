#!/usr/bin/env node
/**
 * The CDK app: `cdk synth -c env=<name>` (default dev). The only place that reads CDK
 * context; everything else is configured through props.
 *
 * Context: `env` (environment name), `roleMap` (JSON object or string: IAM principal ARN →
 * Aegis role or { role, prefixes?, teams? }), `auditRetentionDays` (default COMPLIANCE retention of the audit archive), and
 * for cross-region replication of the buckets all four of `replicaRegion`,
 * `replicaArtifactBucketArn`, `replicaAuditBucketArn` and `replicaKmsKeyArn` (none: no
 * replication), `sentinelnetUrl` (SentinelNet for policy decisions; none: the Cedar
 * policies bundled from `policies/`), and for mutual TLS on a custom domain all three of
 * `domainName`, `certificateArn` and `mtlsTruststoreUri`, optionally `mtlsTruststoreVersion`
 * (none: the execute-api endpoint, no mutual TLS), `environmentsFile` (the per-environment
 * file, default `environments.json`: the entry named by `env` gives account, region, role map,
 * alarm email, retention, serving retention (`servingRetentionDays`), serving's input segment interval (`servingSegmentSeconds`), download URL lifetime (`downloadUrlTtlSeconds`), replication, mTLS, API throttles, tags and termination protection; the context keys
 * here override it), `alarmEmail` (subscribed to the alarm
 * topic; none: subscribe to the `AlarmTopicArn` output), `deployNonce` (a new value runs the
 * migrations again on a deploy that changes nothing else), `console` (`false`: no web console;
 * default on, off with mutual TLS).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { App, Duration, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { RoleMapEntry } from '../lib/kernel/identity.js';
import { AegisStack, REPO_ROOT } from '../lib/infra/aegis-stack.js';
import { loadEnvironments } from '../lib/infra/environments.js';
import { scheduleRates } from '../lib/infra/schedule-rates.js';
import { mutualTlsFromContext } from '../lib/infra/mutual-tls.js';
import type { ReplicationTarget } from '../lib/infra/replication.js';

const app = new App();

const envName = String(app.node.tryGetContext('env') ?? 'dev');
// The environment's entry in the checked per-environment file; context keys override it.
const environmentsFile = String(app.node.tryGetContext('environmentsFile') ?? join(REPO_ROOT, 'environments.json'));
const fromFile =
  (app.node.tryGetContext('environmentsFile') !== undefined || existsSync(environmentsFile)
    ? loadEnvironments(environmentsFile)[envName]
    : undefined) ?? {};
const rawRoleMap: unknown = app.node.tryGetContext('roleMap') ?? fromFile.roleMap ?? {};
let iamRoleMap: unknown;
try {
  iamRoleMap = typeof rawRoleMap === 'string' ? JSON.parse(rawRoleMap) : rawRoleMap;
} catch {
  throw new Error('context roleMap is not JSON');
}
if (typeof iamRoleMap !== 'object' || iamRoleMap === null || Array.isArray(iamRoleMap)) {
  throw new Error('context roleMap must be a JSON object of principal ARN → role or { role, prefixes?, teams? }');
}
const auditRetentionDays: unknown = app.node.tryGetContext('auditRetentionDays') ?? fromFile.auditRetentionDays;
if (auditRetentionDays !== undefined && !/^[1-9][0-9]{0,4}$/.test(String(auditRetentionDays))) {
  throw new Error('context auditRetentionDays must be a whole number of days');
}

const rawDeployNonce: unknown = app.node.tryGetContext('deployNonce');
const deployNonce = rawDeployNonce === undefined || rawDeployNonce === '' ? undefined : String(rawDeployNonce);
const rawAlarmEmail: unknown = app.node.tryGetContext('alarmEmail');
const alarmEmail = rawAlarmEmail === undefined || rawAlarmEmail === '' ? fromFile.alarmEmail : String(rawAlarmEmail);
if (alarmEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alarmEmail))
  throw new Error(`alarmEmail ${alarmEmail} is not an email address`);
const rawSentinelnetUrl: unknown = app.node.tryGetContext('sentinelnetUrl');
const sentinelnetUrl = rawSentinelnetUrl === undefined || rawSentinelnetUrl === '' ? fromFile.sentinelnetUrl : String(rawSentinelnetUrl);

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
  : fromFile.replication;

const rawConsole: unknown = app.node.tryGetContext('console');
if (rawConsole !== undefined && !['true', 'false', true, false].includes(rawConsole as string))
  throw new Error('context console must be true or false');
const consoleProp = rawConsole === undefined ? fromFile.console : String(rawConsole) === 'true';

// All of domainName, certificateArn and mtlsTruststoreUri, or none; shapes checked by the stack.
const mutualTls = mutualTlsFromContext((key) => app.node.tryGetContext(key)) ?? fromFile.mutualTls;

const stack = new AegisStack(app, `aegis-${envName}`, {
  envName,
  // An account and region pin the stack (AZs from the committed cdk.context.json); without them it is environment-agnostic.
  ...(fromFile.account && fromFile.region && { env: { account: fromFile.account, region: fromFile.region } }),
  terminationProtection: fromFile.terminationProtection ?? envName === 'prod',
  // Shape checked here, entries (ARNs, role names) by the stack.
  iamRoleMap: iamRoleMap as Record<string, RoleMapEntry>,
  ...(auditRetentionDays !== undefined && { auditRetention: Duration.days(Number(auditRetentionDays)) }),
  ...(fromFile.downloadUrlTtlSeconds !== undefined && { downloadUrlTtl: Duration.seconds(fromFile.downloadUrlTtlSeconds) }),
  ...(fromFile.servingRetentionDays !== undefined && { servingRetention: Duration.days(fromFile.servingRetentionDays) }),
  ...(fromFile.servingSegmentSeconds !== undefined && { servingSegmentInterval: Duration.seconds(fromFile.servingSegmentSeconds) }),
  ...(replication && { replication }),
  ...(sentinelnetUrl !== undefined && { sentinelnetUrl }),
  ...(alarmEmail !== undefined && { alarmEmail }),
  ...(deployNonce !== undefined && { deployNonce }),
  ...(mutualTls && { mutualTls }),
  ...(consoleProp !== undefined && { console: consoleProp }),
  ...(fromFile.throttling && { throttling: fromFile.throttling }),
  ...(fromFile.serving && { serving: fromFile.serving }),
  ...scheduleRates(fromFile.schedules),
  description: `Aegis model registry (${envName}; ${replication ? `buckets replicated to ${replication.region}` : 'no cross-region bucket replication'})`,
});

Tags.of(stack).add('aegis:env', envName);
for (const [key, value] of Object.entries(fromFile.tags ?? {})) Tags.of(stack).add(key, value);

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
