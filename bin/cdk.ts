#!/usr/bin/env node
/**
 * The CDK app: `cdk synth -c env=<name>` (default dev). The only place that reads CDK
 * context; everything else is configured through props.
 *
 * Context: `env` (environment name), `roleMap` (JSON object or string: IAM principal ARN →
 * Aegis role), `auditRetentionDays` (default COMPLIANCE retention of the audit archive).
 */
import { App, Duration, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Role } from '../lib/config.js';
import { AegisStack } from '../lib/infra/aegis-stack.js';

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

new AegisStack(app, `aegis-${envName}`, {
  envName,
  // Shape checked here, entries (ARNs, role names) by the stack.
  iamRoleMap: iamRoleMap as Record<string, Role>,
  ...(auditRetentionDays !== undefined && { auditRetention: Duration.days(Number(auditRetentionDays)) }),
  description: `Aegis model registry (${envName})`,
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
