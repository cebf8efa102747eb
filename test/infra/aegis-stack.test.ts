import type { RouteAccess } from '../../lib/infra/access.js';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { ErrorCodes } from '../../lib/kernel/errors.js';
import { ROUTES, routePaths, type RouteSpec } from '../../lib/platform/http/routes.js';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { IConstruct } from 'constructs';
import { AUDIT_ARCHIVE_PREFIX, AUDIT_HEADS_PREFIX } from '../../lib/infra/access.js';
import {
  API_FUNCTION_NAMES,
  API_ROUTE_IDS,
  POLICIES_DIR,
  POLICY_DECIDING_ROUTES,
  ROUTE_ACCESS,
  ROUTE_FUNCTION,
} from '../../lib/infra/api-functions.js';
import { AegisStack, REPO_ROOT } from '../../lib/infra/aegis-stack.js';
import { logicalIdOf } from '../../lib/infra/pin.js';
import { RegistryDatabase } from '../../lib/infra/registry-database.js';
import { MUTUAL_TLS_CONTEXT, checkMutualTlsDomain, mutualTlsFromContext, type MutualTlsDomain } from '../../lib/infra/mutual-tls.js';
import type { ReplicationTarget } from '../../lib/infra/replication.js';
import { checkpointKey, segmentKey } from '../../lib/platform/audit/segments.js';
import { HEADS_PREFIX, headKey } from '../../lib/platform/audit/head.js';
import {
  CDK_JSON_CONTEXT,
  MTLS,
  MTLS_CONTEXT,
  NON_ROUTE_ENTRIES,
  REPLICA,
  stubProjectRoot,
  synthAegis,
  templateText,
  type Synthesized,
} from './support.js';

type Json = Record<string, any>;
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** IAM action pattern (`s3:Delete*`, `*`) as a case-insensitive regular expression. */
const actionPattern = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^$|()[\]{}\\]/g, '\\$&'))
      .join('.*')}$`,
    'i',
  );

/** Whether a statement allows `action`, by name or through a wildcard (`s3:*`, `s3:Delete*`, `*`). */
const allows = (statement: Statement, action: string): boolean => asList(statement.Action).some((a) => actionPattern(a).test(action));

/**
 * Whether a statement's resources name the resource of logical id `logicalId` (Ref, GetAtt, or
 * an ARN built from them). `Resource: "*"` is not counted here: a test of its own allows it
 * for X-Ray only.
 */
/** What the production startup checks read (lib/platform/startup-checks.ts), granted to every function. */
const STARTUP_CHECK_ACTIONS = ['s3:GetBucketObjectLockConfiguration', 'kms:DescribeKey'];
const onResource = (statement: Statement, logicalId: string): boolean =>
  new RegExp(`"(Ref|Fn::GetAtt)":\\[?"${logicalId}"`).test(JSON.stringify(statement.Resource));

/** Every Allow statement of every identity policy in the template, with the roles it is attached to. */
function identityStatements(template: Template): { policy: string; roles: string[]; statement: Statement }[] {
  const out: { policy: string; roles: string[]; statement: Statement }[] = [];
  const refs = (roles: unknown): string[] => asList(roles as Json[]).map((r) => r.Ref as string);
  for (const [id, res] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
    for (const s of res.Properties.PolicyDocument.Statement) out.push({ policy: id, roles: refs(res.Properties.Roles), statement: s });
  }
  for (const [id, res] of Object.entries(template.findResources('AWS::IAM::ManagedPolicy'))) {
    for (const s of res.Properties.PolicyDocument.Statement) out.push({ policy: id, roles: refs(res.Properties.Roles), statement: s });
  }
  for (const [id, res] of Object.entries(template.findResources('AWS::IAM::Role'))) {
    for (const p of asList(res.Properties?.Policies as Json[])) {
      for (const s of p.PolicyDocument.Statement) out.push({ policy: `${id}/${p.PolicyName}`, roles: [id], statement: s });
    }
  }
  return out.filter((e) => e.statement.Effect === 'Allow');
}

/** What Step Functions' role needs on "*": CloudWatch Logs delivery (logging ALL) and X-Ray (tracing). */
const STATE_MACHINE_WILDCARD_ACTIONS = [
  'logs:CreateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:DescribeLogGroups',
  'logs:DescribeResourcePolicies',
  'logs:GetLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:UpdateLogDelivery',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'xray:PutTelemetryRecords',
  'xray:PutTraceSegments',
];

/**
 * A state machine's definition as deployed: DefinitionString (a string, or an Fn::Join of
 * strings and references) with DefinitionSubstitutions applied. References stay template
 * objects, so a Task's Resource comes back as `{ "Fn::GetAtt": [...] }`.
 */
function deployedDefinition(definitionString: unknown, substitutions: Record<string, unknown> | undefined): Json {
  const references: unknown[] = [];
  const marker = (value: unknown) => `@@ref${references.push(value) - 1}@@`;
  let text: string;
  if (typeof definitionString === 'string') text = definitionString;
  else {
    const [separator, parts] = (definitionString as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    text = parts.map((p) => (typeof p === 'string' ? p : marker(p))).join(separator);
  }
  text = text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (whole, name: string) =>
    substitutions && name in substitutions
      ? typeof substitutions[name] === 'string'
        ? (substitutions[name] as string)
        : marker(substitutions[name])
      : whole,
  );
  const restore = (node: unknown): unknown => {
    if (typeof node === 'string') {
      const m = /^@@ref(\d+)@@$/.exec(node);
      return m ? references[Number(m[1])] : node;
    }
    if (Array.isArray(node)) return node.map(restore);
    if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, restore(v)]));
    return node;
  };
  return restore(JSON.parse(text)) as Json;
}

/** Every state of an ASL definition, nested ones (Parallel branches, Map processors) included. */
function allStates(group: Json): [string, Json][] {
  return Object.entries((group.States ?? {}) as Record<string, Json>).flatMap(([name, state]) => [
    [name, state] as [string, Json],
    ...[...asList(state.Branches as Json[]), state.ItemProcessor, state.Iterator].filter(Boolean).flatMap((g) => allStates(g as Json)),
  ]);
}

describe('AegisStack template', () => {
  let stub: ReturnType<typeof stubProjectRoot>;
  let synth: Synthesized;
  let template: Template;
  const roleOf = (routeId: (typeof API_ROUTE_IDS)[number]) => logicalIdOf(synth.stack.apiFunctions.functions[routeId].role);
  const statementsOfRole = (roleLogicalId: string) =>
    identityStatements(template)
      .filter((e) => e.roles.includes(roleLogicalId))
      .map((e) => e.statement);
  const actionsOfRole = (roleLogicalId: string) => statementsOfRole(roleLogicalId).flatMap((s) => asList(s.Action));
  /** The roles of the two rollout state machines (by the state machines' RoleArn); the drift machine's: test/infra/drift-workflow.test.ts. */
  /** The two rollout machines' roles (not the drift or register machine's: their own tests; nor the example retrain starter's: events out). */
  const stateMachineRoles = () =>
    Object.entries(template.findResources('AWS::StepFunctions::StateMachine'))
      .filter(
        ([id]) =>
          id !== 'DriftStateMachine' &&
          id !== 'RegisterStateMachine' &&
          id !== logicalIdOf(synth.stack.eventDelivery.examples.retrainStarter),
      )
      .map(([, m]) => (m.Properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]);
  /** Every function built from our handlers: API routes, migrate, the scheduled archiver and the rollout step. */
  const ourFunctions = () => [
    ...Object.values(synth.stack.apiFunctions.functions),
    synth.stack.migrations.migrateFunction,
    synth.stack.auditArchiveSchedule.archiveFunction,
    synth.stack.auditCheckpoint.jobFunction,
    synth.stack.pendingUploadExpiry.jobFunction,
    synth.stack.pendingPromotionExpiry.jobFunction,
    synth.stack.servingRetention.jobFunction,
    synth.stack.rollouts.rolloutStep,
    synth.stack.servingIngest.ingestFunction,
    synth.stack.drift.driftStep,
    synth.stack.registration.registerStep,
    synth.stack.driftSchedule.jobFunction,
    synth.stack.eventDelivery.dispatcher.jobFunction,
  ];

  beforeAll(() => {
    stub = stubProjectRoot();
    synth = synthAegis({ projectRoot: stub.root, props: { iamRoleMap: { 'arn:aws:iam::123456789012:role/ci': 'publisher' } } });
    template = synth.template;
  });
  afterAll(() => stub.cleanup());

  describe('KMS', () => {
    it('creates the manifest and audit signing keys as Ed25519 SIGN_VERIFY keys', () => {
      const resources = template.toJSON().Resources as Json;
      for (const id of ['ManifestSigningKey', 'AuditSigningKey']) {
        expect(resources[id]).toMatchObject({
          Type: 'AWS::KMS::Key',
          Properties: { KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' },
        });
      }
      template.resourcePropertiesCountIs('AWS::KMS::Key', { KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' }, 2);
    });

    it('rotates the symmetric data key', () => {
      expect(template.toJSON().Resources.DataKey.Properties).toMatchObject({ EnableKeyRotation: true });
      expect(template.toJSON().Resources.DataKey.Properties.KeySpec).toBeUndefined();
    });

    it('retains every key when the stack or the resource goes away', () => {
      const keys = template.findResources('AWS::KMS::Key');
      expect(Object.keys(keys)).toHaveLength(3);
      for (const key of Object.values(keys)) expect(key).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    });
  });

  describe('S3', () => {
    it('enables Object Lock and versioning on the artifact and audit buckets', () => {
      for (const id of ['ArtifactBucket', 'AuditArchiveBucket']) {
        expect(template.toJSON().Resources[id]).toMatchObject({
          Type: 'AWS::S3::Bucket',
          Properties: { ObjectLockEnabled: true, VersioningConfiguration: { Status: 'Enabled' } },
        });
      }
    });

    it('gives the audit archive a COMPLIANCE default retention and the artifact bucket none (set per object)', () => {
      const days = new Capture();
      template.hasResourceProperties('AWS::S3::Bucket', {
        ObjectLockEnabled: true,
        ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: days } } },
      });
      expect(template.toJSON().Resources.AuditArchiveBucket.Properties.ObjectLockConfiguration.Rule.DefaultRetention.Mode).toBe(
        'COMPLIANCE',
      );
      expect(days.asNumber()).toBeGreaterThanOrEqual(365);
      expect(template.toJSON().Resources.ArtifactBucket.Properties.ObjectLockConfiguration?.Rule).toBeUndefined();
    });

    it('blocks all public access, encrypts, versions and retains every bucket', () => {
      const buckets = template.findResources('AWS::S3::Bucket');
      expect(Object.keys(buckets).sort()).toEqual(['AccessLogBucket', 'ArtifactBucket', 'AuditArchiveBucket', 'DriftBucket']);
      for (const bucket of Object.values(buckets)) {
        expect(bucket).toMatchObject({
          DeletionPolicy: 'Retain',
          Properties: {
            PublicAccessBlockConfiguration: {
              BlockPublicAcls: true,
              BlockPublicPolicy: true,
              IgnorePublicAcls: true,
              RestrictPublicBuckets: true,
            },
            VersioningConfiguration: { Status: 'Enabled' },
            BucketEncryption: {
              ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: expect.any(String) } }],
            },
          },
        });
      }
    });

    it('encrypts artifacts, the audit archive and the drift store with the customer managed data key', () => {
      for (const id of ['ArtifactBucket', 'AuditArchiveBucket', 'DriftBucket']) {
        expect(
          template.toJSON().Resources[id].Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault,
        ).toEqual({
          SSEAlgorithm: 'aws:kms',
          KMSMasterKeyID: { 'Fn::GetAtt': ['DataKey', 'Arn'] },
        });
      }
    });

    it('sends server access logs of the data buckets to the log bucket', () => {
      for (const id of ['ArtifactBucket', 'AuditArchiveBucket', 'DriftBucket']) {
        expect(template.toJSON().Resources[id].Properties.LoggingConfiguration).toMatchObject({
          DestinationBucketName: { Ref: 'AccessLogBucket' },
        });
      }
    });

    it('moves noncurrent versions of both data buckets to colder storage', () => {
      for (const id of ['ArtifactBucket', 'AuditArchiveBucket']) {
        const rules = template.toJSON().Resources[id].Properties.LifecycleConfiguration.Rules as Json[];
        const classes = rules.flatMap((r) => asList(r.NoncurrentVersionTransitions as Json[]).map((t) => t.StorageClass));
        expect(classes.length).toBeGreaterThan(0);
        for (const c of classes) expect(['GLACIER', 'GLACIER_IR', 'DEEP_ARCHIVE', 'INTELLIGENT_TIERING', 'STANDARD_IA']).toContain(c);
      }
    });

    it('denies every request that is not over TLS, on every bucket', () => {
      for (const id of ['AccessLogBucket', 'ArtifactBucket', 'AuditArchiveBucket', 'DriftBucket']) {
        template.hasResourceProperties('AWS::S3::BucketPolicy', {
          Bucket: { Ref: id },
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Action: 's3:*',
                Principal: { AWS: '*' },
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              }),
            ]),
          },
        });
      }
    });
  });

  describe('database', () => {
    it('runs Aurora PostgreSQL 15 or 16 with the Data API, encryption, backups, deletion protection and IAM auth', () => {
      const retention = new Capture();
      const version = new Capture();
      template.hasResource('AWS::RDS::DBCluster', {
        DeletionPolicy: 'Retain',
        Properties: Match.objectLike({
          Engine: 'aurora-postgresql',
          EngineVersion: version,
          EnableHttpEndpoint: true,
          StorageEncrypted: true,
          KmsKeyId: { 'Fn::GetAtt': ['DataKey', 'Arn'] },
          BackupRetentionPeriod: retention,
          DeletionProtection: true,
          EnableIAMDatabaseAuthentication: true,
          ManageMasterUserPassword: true,
          ServerlessV2ScalingConfiguration: Match.anyValue(),
        }),
      });
      expect(retention.asNumber()).toBeGreaterThanOrEqual(7);
      expect(version.asString()).toMatch(/^1[56]\./);
      template.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.serverless', PubliclyAccessible: false });
    });

    it('keeps 14 days of backups (point-in-time recovery) taken in a fixed window, with tags copied to snapshots', () => {
      expect(template.toJSON().Resources.RegistryCluster.Properties).toMatchObject({
        BackupRetentionPeriod: 14,
        PreferredBackupWindow: '03:00-04:00',
        PreferredMaintenanceWindow: 'sun:04:30-sun:05:30',
        CopyTagsToSnapshot: true,
      });
    });

    it('generates the application user secret, encrypted with the data key: a username and a generated password', () => {
      template.hasResource('AWS::SecretsManager::Secret', {
        DeletionPolicy: 'Retain',
        Properties: Match.objectLike({
          KmsKeyId: { 'Fn::GetAtt': ['DataKey', 'Arn'] },
          GenerateSecretString: Match.objectLike({
            SecretStringTemplate: JSON.stringify({ username: 'aegis_app' }),
            GenerateStringKey: 'password',
            ExcludePunctuation: true,
            PasswordLength: 40,
          }),
        }),
      });
      expect(logicalIdOf(synth.stack.database.appSecret)).toBe('RegistryAppUserSecret');
    });

    it('lets only the migrate function read the master user secret; every other function reads the application secret, and no other secret', () => {
      const master = JSON.stringify({ 'Fn::GetAtt': ['RegistryCluster', 'MasterUserSecret.SecretArn'] });
      const app = JSON.stringify({ Ref: 'RegistryAppUserSecret' });
      const secretReads = (role: string) =>
        statementsOfRole(role)
          .filter((st) => asList(st.Action).some((a) => a.startsWith('secretsmanager:')))
          .flatMap((st) => asList(st.Resource).map((r) => ({ actions: asList(st.Action).sort(), resources: JSON.stringify(r) })));
      const readers = identityStatements(template)
        .filter((e) => allows(e.statement, 'secretsmanager:GetSecretValue'))
        .filter((e) => JSON.stringify(e.statement.Resource).includes(master))
        .flatMap((e) => e.roles);
      expect([...new Set(readers)]).toEqual([logicalIdOf(synth.stack.migrations.migrateFunction.role)]);
      expect(
        secretReads(logicalIdOf(synth.stack.migrations.migrateFunction.role))
          .map((r) => r.resources)
          .sort(),
      ).toEqual([app, master].sort());
      for (const fn of ourFunctions().filter((f) => f !== synth.stack.migrations.migrateFunction)) {
        const reads = secretReads(logicalIdOf(fn.role));
        expect(reads).toEqual([{ actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], resources: app }]);
      }
    });

    it('keeps the database in isolated subnets: no NAT gateway, no internet gateway', () => {
      template.resourceCountIs('AWS::EC2::NatGateway', 0);
      template.resourceCountIs('AWS::EC2::InternetGateway', 0);
      template.resourceCountIs('AWS::EC2::Subnet', 2);
      template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL' });
    });
  });

  describe('functions', () => {
    it('creates one Lambda per API function, serving every route that is not local-only, and none for local-only routes', () => {
      const expected = Object.values(ROUTES)
        .filter((r) => !('localOnly' in r && r.localOnly))
        .map((r) => r.id);
      expect([...API_ROUTE_IDS].sort()).toEqual([...expected].sort());
      expect(Object.keys(synth.stack.apiFunctions.functions).sort()).toEqual([...expected].sort());
      expect(Object.keys(synth.stack.apiFunctions.byName)).toEqual([...API_FUNCTION_NAMES]);
      const functions = template.findResources('AWS::Lambda::Function');
      for (const name of API_FUNCTION_NAMES) {
        const routes = API_ROUTE_IDS.filter((id) => ROUTE_FUNCTION[id] === name);
        const fn = functions[logicalIdOf(synth.stack.apiFunctions.byName[name].function)];
        for (const id of routes) expect(synth.stack.apiFunctions.functions[id]).toBe(synth.stack.apiFunctions.byName[name]);
        const single = ROUTES[routes[0]!];
        expect(fn?.Properties.Description).toBe(
          routes.length === 1
            ? `${single.method} ${single.path}: ${single.summary}`.slice(0, 256)
            : `API function ${name}: ${routes.join(', ')}`,
        );
      }
      const described = Object.values(functions).map((f) => String(f.Properties.Description ?? ''));
      expect(described.filter((d) => d.includes(ROUTES.tokensCreate.path) || d.includes('tokensCreate'))).toEqual([]);
      // the API functions, the scheduled archiver, head checkpoint, upload and promotion expiry, serving retention, drift schedule, event dispatcher, rollout step, drift step, register step, migrate, serving ingest, the custom resource framework and CDK's default-SG restriction
      expect(Object.keys(functions)).toHaveLength(API_FUNCTION_NAMES.length + 14);
      // routes share a function only when they need the same: every read-only route shares one
      expect(API_FUNCTION_NAMES.length).toBeLessThan(API_ROUTE_IDS.length / 2);
    });

    it("stays well inside CloudFormation's 500 resources per stack (routes share functions)", () => {
      // a deploy past 500 fails: this fails first, while there is still room to split the stack
      // (409 with the drift pipeline: its machine, step, schedule job, alarms and three API functions;
      // 410 with the web console, whose ~170 resources live in its nested stack; 473 with events out:
      // the webhook functions, the bus, the dispatcher job and the example rules; 476 with the multipart
      // parts route: its two path resources and its method; 445 with the per-function alarms moved to
      // their nested stack. Next to move: the scheduled jobs)
      expect(Object.keys(template.toJSON().Resources).length).toBeLessThan(480);
      // the function alarms' nested stack: one alarm per function, each taking its function's name
      // as a parameter (CloudFormation allows 200 parameters and 200 outputs per template)
      const alarms = Template.fromStack(synth.stack.monitoring.functionAlarms).toJSON();
      const types = new Set(Object.values(alarms.Resources as Record<string, { Type: string }>).map((r) => r.Type));
      expect([...types]).toEqual(['AWS::CloudWatch::Alarm']);
      const perFunction = [...synth.stack.monitoring.alarms.entries()].filter(([name]) => name.endsWith('-errors-throttles'));
      expect(perFunction.length).toBeGreaterThan(30);
      expect(Object.keys(alarms.Resources).sort()).toEqual(perFunction.map(([, a]) => logicalIdOf(a)).sort());
      expect(Object.keys(alarms.Parameters).length).toBeLessThan(200);
      expect(Object.keys(alarms.Outputs ?? {}).length).toBeLessThan(200);
    });

    it('runs every handler on the newest Node.js runtime, x86_64, traced, with JSON logs', () => {
      const ours = ourFunctions();
      for (const fn of ours) {
        expect(template.toJSON().Resources[logicalIdOf(fn.function)].Properties).toMatchObject({
          Runtime: 'nodejs24.x',
          Architectures: ['x86_64'],
          Handler: [
            synth.stack.auditArchiveSchedule.archiveFunction,
            synth.stack.auditCheckpoint.jobFunction,
            synth.stack.pendingUploadExpiry.jobFunction,
            synth.stack.pendingPromotionExpiry.jobFunction,
            synth.stack.servingRetention.jobFunction,
            synth.stack.driftSchedule.jobFunction,
            synth.stack.eventDelivery.dispatcher.jobFunction,
          ].includes(fn)
            ? 'index.scheduled'
            : 'index.handler',
          TracingConfig: { Mode: 'Active' },
          LoggingConfig: { LogFormat: 'JSON' },
        });
      }
    });

    it('configures every function for AWS mode through the environment', () => {
      const url = new Capture();
      const ours = ourFunctions();
      for (const fn of ours) {
        const vars = template.toJSON().Resources[logicalIdOf(fn.function)].Properties.Environment.Variables as Json;
        expect(vars).toMatchObject({
          NODE_ENV: 'production',
          REQUIRE_KMS: 'true',
          MODEL_REGISTRY_S3_BUCKET: { Ref: 'ArtifactBucket' },
          MANIFEST_SIGNING_KMS_KEY_ID: { 'Fn::GetAtt': ['ManifestSigningKey', 'Arn'] },
          AUDIT_SIGNING_KMS_KEY_ID: { 'Fn::GetAtt': ['AuditSigningKey', 'Arn'] },
          AEGIS_AUDIT_ARCHIVE_BUCKET: { Ref: 'AuditArchiveBucket' },
          MANIFEST_SIGNER_KID: 'manifest-signer-v1',
          POWERTOOLS_SERVICE_NAME: 'aegis',
        });
        // the configured entries, then the console's group roles (test/infra/console-hosting.test.ts)
        expect(templateText(vars.AEGIS_IAM_ROLE_MAP)).toMatch(/^\{"arn:aws:iam::123456789012:role\/ci":"publisher","<GetAtt Console/);
        // source maps stay beside the bundle: loading them would slow every cold start
        expect(vars.NODE_OPTIONS).toBeUndefined();
      }
      // every function but the migrate step connects as the application user (its secret); migrate as the master user
      const urlOf = (fn: (typeof ours)[number]) =>
        JSON.stringify(template.toJSON().Resources[logicalIdOf(fn.function)].Properties.Environment.Variables.MODEL_REGISTRY_DATABASE_URL);
      const migrate = synth.stack.migrations.migrateFunction;
      for (const fn of ours.filter((f) => f !== migrate)) {
        expect(urlOf(fn)).toContain('"&secretArn=",{"Ref":"RegistryAppUserSecret"}');
        expect(urlOf(fn)).not.toContain('MasterUserSecret');
      }
      expect(urlOf(migrate)).toContain('"&secretArn=",{"Fn::GetAtt":["RegistryCluster","MasterUserSecret.SecretArn"]}');
      const vars = template.toJSON().Resources[logicalIdOf(migrate.function)].Properties.Environment.Variables;
      expect(vars.AEGIS_APP_DATABASE_SECRET_ARN).toEqual({ Ref: 'RegistryAppUserSecret' });
      template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { MODEL_REGISTRY_DATABASE_URL: url } } });
      const [first, ...rest] = url.asObject()['Fn::Join'][1] as unknown[];
      expect(first).toBe('rdsdata://aegis?resourceArn=arn:');
      expect(JSON.stringify(rest)).toContain('{"Ref":"RegistryCluster"}');
    });

    it('deploys new handler code only after the migrations custom resource has run', () => {
      const migration = logicalIdOf(synth.stack.migrations.resource);
      template.hasResourceProperties('Custom::AegisMigrations', { ServiceToken: Match.anyValue(), DeployNonce: 'test-deploy' });
      for (const fn of [
        ...Object.values(synth.stack.apiFunctions.functions),
        synth.stack.auditArchiveSchedule.archiveFunction,
        synth.stack.rollouts.rolloutStep,
      ]) {
        expect(template.toJSON().Resources[logicalIdOf(fn.function)].DependsOn).toContain(migration);
      }
    });

    it('runs the migrations again when the migrate code or the configuration changes, not on every synth', () => {
      const props = template.findResources('Custom::AegisMigrations');
      const run = Object.values(props)[0]!.Properties;
      expect(Object.keys(run).sort()).toEqual(['DeployNonce', 'Environment', 'MigrateCode', 'ServiceToken']);
      expect(run.Environment.REQUIRE_KMS).toBe('true');
      const code = template.toJSON().Resources[logicalIdOf(synth.stack.migrations.migrateFunction.function)].Properties.Code;
      expect(run.MigrateCode).toEqual(code.S3Key);
      expect(run.MigrateCode).toMatch(/^[0-9a-f]{64}\.zip$/);
    });

    it('synthesizes the same template twice from an unchanged tree (no deploy nonce, no timestamps)', () => {
      const once = synthAegis({ projectRoot: stub.root, props: { deployNonce: undefined } }).template.toJSON();
      const twice = synthAegis({ projectRoot: stub.root, props: { deployNonce: undefined } }).template.toJSON();
      expect(JSON.stringify(twice)).toEqual(JSON.stringify(once));
      expect(
        (Object.values(once.Resources) as Json[]).find((r) => r.Type === 'Custom::AegisMigrations')!.Properties.DeployNonce,
      ).toBeUndefined();
    });
  });

  describe('audit archive schedule', () => {
    const scheduled = () => logicalIdOf(synth.stack.auditArchiveSchedule.archiveFunction.function);
    const dlq = () => logicalIdOf(synth.stack.auditArchiveSchedule.deadLetterQueue);

    it('runs a separate function built from lambdas/audit-archive.ts, calling its scheduled export', () => {
      const fn = template.toJSON().Resources[scheduled()];
      expect(fn.Properties.Handler).toMatch(/\.scheduled$/);
      expect(scheduled()).not.toBe(logicalIdOf(synth.stack.apiFunctions.functions.auditArchive.function));
      expect(template.toJSON().Resources[logicalIdOf(synth.stack.apiFunctions.functions.auditArchive.function)].Properties.Handler).toBe(
        'index.handler',
      );
      expect(synth.stack.auditArchiveSchedule.archiveFunction.node.tryFindChild('Function')).toBeDefined();
    });

    it('has the same grants as the auditArchive route function, plus sending to its dead-letter queue', () => {
      const norm = (roleId: string) =>
        statementsOfRole(roleId)
          .filter((s) => !asList(s.Action).some((a) => a.startsWith('logs:')) && !/DeadLetterQueue/.test(JSON.stringify(s.Resource)))
          .map((s) => JSON.stringify({ ...s, Action: asList(s.Action).sort() }))
          .sort();
      const scheduledRole = logicalIdOf(synth.stack.auditArchiveSchedule.archiveFunction.role);
      expect(norm(scheduledRole)).toEqual(norm(roleOf('auditArchive')));
      const extra = statementsOfRole(scheduledRole).filter((s) => /DeadLetterQueue/.test(JSON.stringify(s.Resource)));
      expect(extra.flatMap((s) => asList(s.Action)).sort()).toEqual(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage']);
    });

    it('invokes it every 5 minutes from an EventBridge rule, with retries and a dead-letter queue', () => {
      const rules = Object.values(template.findResources('AWS::Events::Rule')).filter((r) =>
        JSON.stringify(r.Properties.Targets).includes(scheduled()),
      );
      expect(rules).toHaveLength(1);
      expect(rules[0]!.Properties).toMatchObject({
        ScheduleExpression: 'rate(5 minutes)',
        State: 'ENABLED',
        Targets: [
          {
            Arn: { 'Fn::GetAtt': [scheduled(), 'Arn'] },
            RetryPolicy: { MaximumRetryAttempts: expect.any(Number), MaximumEventAgeInSeconds: expect.any(Number) },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq(), 'Arn'] } },
          },
        ],
      });
      expect(rules[0]!.Properties.Targets[0].RetryPolicy.MaximumRetryAttempts).toBeGreaterThan(0);
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [scheduled(), 'Arn'] },
        Principal: 'events.amazonaws.com',
      });
    });

    it('retries failed runs and records those that still fail in the same dead-letter queue', () => {
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: scheduled() },
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq(), 'Arn'] } } },
      });
    });

    it('encrypts the dead-letter queue, refuses non-TLS requests and lets only the rule send to it', () => {
      const queues = template.findResources('AWS::SQS::Queue');
      expect(Object.keys(queues).sort()).toEqual(
        [
          dlq(),
          logicalIdOf(synth.stack.auditCheckpoint.deadLetterQueue),
          logicalIdOf(synth.stack.pendingUploadExpiry.deadLetterQueue),
          logicalIdOf(synth.stack.pendingPromotionExpiry.deadLetterQueue),
          logicalIdOf(synth.stack.servingRetention.deadLetterQueue),
          logicalIdOf(synth.stack.driftSchedule.deadLetterQueue),
          logicalIdOf(synth.stack.servingIngest.deadLetterQueue),
          logicalIdOf(synth.stack.eventDelivery.dispatcher.deadLetterQueue),
        ].sort(),
      );
      const props = queues[dlq()]!.Properties;
      expect(props.SqsManagedSseEnabled === true || props.KmsMasterKeyId !== undefined).toBe(true);
      expect(props.MessageRetentionPeriod).toBe(14 * 86_400);
      const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')).filter((p) =>
        JSON.stringify(p.Properties.Queues).includes(dlq()),
      );
      expect(policies).toHaveLength(1);
      const statements = policies[0]!.Properties.PolicyDocument.Statement as Json[];
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
      const allows = statements.filter((st) => st.Effect === 'Allow');
      expect(allows).toEqual([
        expect.objectContaining({
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalIdOf(synth.stack.auditArchiveSchedule.rule), 'Arn'] } } },
        }),
      ]);
    });

    it('raises an alarm as soon as a failed run waits in the dead-letter queue', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq(), 'QueueName'] } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    });
  });

  describe('audit head checkpoint', () => {
    const job = () => synth.stack.auditCheckpoint;
    const fnId = () => logicalIdOf(job().jobFunction.function);
    const dlq = () => logicalIdOf(job().deadLetterQueue);
    const keyActions = (roleId: string, keyLogicalId: string) =>
      new Set(
        statementsOfRole(roleId)
          .filter((s) => onResource(s, keyLogicalId))
          .flatMap((s) => asList(s.Action)),
      );

    it('runs lambdas/audit-checkpoint.ts (scheduled export) every minute from an EventBridge rule, one retry, a dead-letter queue and an alarm, timing out before the next run', () => {
      const fn = template.toJSON().Resources[fnId()].Properties;
      expect(fn).toMatchObject({ Handler: 'index.scheduled', Timeout: 50 });
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 minute)',
        State: 'ENABLED',
        Targets: [
          Match.objectLike({
            Arn: { 'Fn::GetAtt': [fnId(), 'Arn'] },
            RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 1 }),
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq(), 'Arn'] } },
          }),
        ],
      });
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: fnId() },
        MaximumRetryAttempts: 1,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq(), 'Arn'] } } },
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq(), 'QueueName'] } }],
        Threshold: 1,
      });
    });

    it('may read and put (with retention, never delete) only audit/heads/ of the archive bucket, and sign with the audit key only', () => {
      expect(AUDIT_HEADS_PREFIX).toBe(HEADS_PREFIX);
      expect(headKey(1).startsWith(AUDIT_HEADS_PREFIX)).toBe(true);
      const role = logicalIdOf(job().jobFunction.role);
      const objects = statementsOfRole(role).filter(
        (s) =>
          onResource(s, 'AuditArchiveBucket') && asList(s.Action).some((a) => a.includes('Object') && !STARTUP_CHECK_ACTIONS.includes(a)),
      );
      expect(objects.length).toBeGreaterThan(0);
      for (const s of objects)
        expect(s.Resource).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['AuditArchiveBucket', 'Arn'] }, `/${AUDIT_HEADS_PREFIX}*`]] });
      const actions = objects.flatMap((s) => asList(s.Action));
      expect(actions).toEqual(expect.arrayContaining(['s3:PutObject', 's3:PutObjectRetention', 's3:GetObject']));
      expect(actions.filter((a) => /Delete|Bypass/.test(a))).toEqual([]);
      expect(
        statementsOfRole(role).some(
          (s) => onResource(s, 'ArtifactBucket') && !asList(s.Action).every((a) => STARTUP_CHECK_ACTIONS.includes(a)),
        ),
      ).toBe(false);
      expect(keyActions(role, 'AuditSigningKey')).toEqual(new Set(['kms:DescribeKey', 'kms:Sign']));
      expect(keyActions(role, 'ManifestSigningKey')).toEqual(new Set(['kms:DescribeKey']));
      expect(actionsOfRole(role)).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey']));
    });

    it('follows auditCheckpointRate', () => {
      const t = synthAegis({ projectRoot: stub.root, props: { auditCheckpointRate: Duration.minutes(2) } }).template;
      t.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(2 minutes)',
        Description: 'Sign the audit chain head every 2 minutes',
      });
    });
  });

  describe('pending-upload expiry', () => {
    const job = () => synth.stack.pendingUploadExpiry;
    const fnId = () => logicalIdOf(job().jobFunction.function);
    const dlq = () => logicalIdOf(job().deadLetterQueue);

    it('runs lambdas/pending-upload-expiry.ts (scheduled export) hourly from an EventBridge rule, with retries, a dead-letter queue and an alarm', () => {
      expect(template.toJSON().Resources[fnId()].Properties.Handler).toBe('index.scheduled');
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 hour)',
        State: 'ENABLED',
        Targets: [
          Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId(), 'Arn'] }, DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq(), 'Arn'] } } }),
        ],
      });
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: fnId() },
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq(), 'Arn'] } } },
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq(), 'QueueName'] } }],
        Threshold: 1,
      });
    });

    it('touches the database only: no S3 objects and no signing (the lifecycle rule removes the bytes)', () => {
      const actions = actionsOfRole(logicalIdOf(job().jobFunction.role));
      // besides the database, only the production startup checks' reads (bucket Object Lock settings, key specs)
      expect(actions.filter((a) => !/^(logs|xray|rds-data|secretsmanager|sqs):/.test(a)).sort()).toEqual([
        'kms:DescribeKey',
        's3:GetBucketObjectLockConfiguration',
      ]);
    });

    it('gives every function the download URL lifetime (5 minutes by default) and the serving segment interval (10 s)', () => {
      for (const fn of ourFunctions()) {
        const variables = template.toJSON().Resources[logicalIdOf(fn.function)].Properties.Environment.Variables;
        expect(variables.AEGIS_DOWNLOAD_URL_TTL_SECONDS).toBe('300');
        expect(variables.AEGIS_SERVING_SEGMENT_SECONDS).toBe('10');
      }
    });

    it('gives every function the same pending-upload TTL as the lifecycle rule (1 day)', () => {
      for (const fn of ourFunctions()) {
        expect(
          template.toJSON().Resources[logicalIdOf(fn.function)].Properties.Environment.Variables.AEGIS_PENDING_UPLOAD_TTL_SECONDS,
        ).toBe('86400');
      }
    });

    it('expires artifact versions still tagged aegis-upload=pending after a day, their noncurrent versions a day later, and the delete markers left', () => {
      const rules = template.toJSON().Resources.ArtifactBucket.Properties.LifecycleConfiguration.Rules as Json[];
      expect(rules).toContainEqual({
        Id: 'expire-pending-uploads',
        Status: 'Enabled',
        Prefix: 'artifacts/',
        TagFilters: [{ Key: 'aegis-upload', Value: 'pending' }],
        ExpirationInDays: 1,
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
      });
      expect(rules).toContainEqual({
        Id: 'remove-expired-delete-markers',
        Status: 'Enabled',
        Prefix: 'artifacts/',
        ExpiredObjectDeleteMarker: true,
      });
      // no other rule expires artifacts: registered versions (untagged, retained) are never expired
      expect(rules.filter((r) => r.ExpirationInDays !== undefined || r.NoncurrentVersionExpiration !== undefined).map((r) => r.Id)).toEqual(
        ['expire-pending-uploads'],
      );
      // unfinished multipart uploads (started with their upload) go when the upload can no longer be registered
      expect(rules.find((r) => r.Id === 'archive-noncurrent-versions')).toMatchObject({
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      });
    });
  });

  describe('pending-promotion expiry', () => {
    const job = () => synth.stack.pendingPromotionExpiry;
    const fnId = () => logicalIdOf(job().jobFunction.function);
    const dlq = () => logicalIdOf(job().deadLetterQueue);

    it('runs lambdas/pending-promotion-expiry.ts (scheduled export) every 15 minutes from an EventBridge rule, with retries, a dead-letter queue and an alarm', () => {
      expect(template.toJSON().Resources[fnId()].Properties.Handler).toBe('index.scheduled');
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(15 minutes)',
        State: 'ENABLED',
        Targets: [
          Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId(), 'Arn'] }, DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq(), 'Arn'] } } }),
        ],
      });
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: fnId() },
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq(), 'Arn'] } } },
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq(), 'QueueName'] } }],
        Threshold: 1,
      });
      // its code goes live only once the schema it expects is in place
      expect(template.toJSON().Resources[fnId()].DependsOn).toContain(logicalIdOf(synth.stack.migrations.resource));
    });

    it('touches the database and signs with the audit key only: no S3 objects, no manifest key, no state machines', () => {
      const role = logicalIdOf(job().jobFunction.role);
      const actions = actionsOfRole(role);
      // besides the database, the audit key's signature, the production startup checks' reads (bucket Object Lock settings,
      // key specs) and waking the event dispatcher after its commits (test/infra/event-delivery.test.ts: that function only)
      expect([...new Set(actions.filter((a) => !/^(logs|xray|rds-data|secretsmanager|sqs):/.test(a)))].sort()).toEqual([
        'kms:DescribeKey',
        'kms:Sign',
        'lambda:InvokeFunction',
        's3:GetBucketObjectLockConfiguration',
      ]);
      const signs = statementsOfRole(role).filter((st) => allows(st, 'kms:Sign'));
      expect(signs.flatMap((st) => asList(st.Resource))).toEqual([{ 'Fn::GetAtt': ['AuditSigningKey', 'Arn'] }]);
    });
  });

  describe('serving retention', () => {
    const job = () => synth.stack.servingRetention;
    const fnId = () => logicalIdOf(job().jobFunction.function);
    const dlq = () => logicalIdOf(job().deadLetterQueue);

    it('runs lambdas/serving-retention.ts (scheduled export) hourly from an EventBridge rule, with retries, a dead-letter queue and an alarm', () => {
      const fn = template.toJSON().Resources[fnId()];
      expect(fn.Properties.Handler).toBe('index.scheduled');
      expect(fn.Properties.Description).toMatch(/^Scheduled serving retention: /);
      const rules = Object.values(template.findResources('AWS::Events::Rule')).filter((r) =>
        JSON.stringify(r.Properties.Targets).includes(fnId()),
      );
      expect(rules).toHaveLength(1);
      expect(rules[0]!.Properties).toMatchObject({
        ScheduleExpression: 'rate(1 hour)',
        State: 'ENABLED',
        Targets: [
          {
            Arn: { 'Fn::GetAtt': [fnId(), 'Arn'] },
            RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq(), 'Arn'] } },
          },
        ],
      });
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [fnId(), 'Arn'] },
        Principal: 'events.amazonaws.com',
      });
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: fnId() },
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq(), 'Arn'] } } },
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq(), 'QueueName'] } }],
        Threshold: 1,
        AlarmDescription: Match.stringLikeRegexp('^Serving retention runs failed'),
      });
      // its code goes live only once the schema it expects is in place
      expect(fn.DependsOn).toContain(logicalIdOf(synth.stack.migrations.resource));
    });

    it('touches the database only: no S3 objects (the drift bucket lifecycle rule expires input segments), no signing', () => {
      const role = logicalIdOf(job().jobFunction.role);
      const actions = actionsOfRole(role);
      // besides the database, only the production startup checks' reads (bucket Object Lock settings, key specs)
      expect([...new Set(actions.filter((a) => !/^(logs|xray|rds-data|secretsmanager|sqs):/.test(a)))].sort()).toEqual([
        'kms:DescribeKey',
        's3:GetBucketObjectLockConfiguration',
      ]);
      // the queue actions are sending to its own dead-letter queue, nothing else
      const queueStatements = statementsOfRole(role).filter((st) => asList(st.Action).some((a) => a.startsWith('sqs:')));
      expect(queueStatements.flatMap((st) => asList(st.Resource))).toEqual([{ 'Fn::GetAtt': [dlq(), 'Arn'] }]);
    });

    it('follows servingRetentionRate', () => {
      const t = synthAegis({ projectRoot: stub.root, props: { servingRetentionRate: Duration.hours(6) } });
      t.template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(6 hours)',
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalIdOf(t.stack.servingRetention.jobFunction.function), 'Arn'] } })],
      });
    });
  });

  describe('API Gateway', () => {
    it('lets API Gateway invoke each API function once, from this API only (any of its methods: routes share functions)', () => {
      const fromApi = Object.values(template.findResources('AWS::Lambda::Permission')).filter(
        (p) => p.Properties.Principal === 'apigateway.amazonaws.com',
      );
      expect(fromApi.map((p) => p.Properties.FunctionName['Fn::GetAtt'][0]).sort()).toEqual(
        Object.values(synth.stack.apiFunctions.byName)
          .map((f) => logicalIdOf(f.function))
          .sort(),
      );
      const api = logicalIdOf(synth.stack.restApi.api);
      for (const p of fromApi) {
        expect(p.Properties.Action).toBe('lambda:InvokeFunction');
        const arn = p.Properties.SourceArn['Fn::Join'][1] as unknown[];
        expect(arn).toContainEqual({ Ref: api });
        expect(arn.at(-1)).toBe('/*/*/*');
      }
    });

    it('has one method per API route, AWS_IAM except on public routes, each with request validation', () => {
      const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
      // a route's deprecated aliases are methods of their own on the route's one function
      expect(methods).toHaveLength(API_ROUTE_IDS.reduce((n, id) => n + routePaths(ROUTES[id]).length, 0));
      for (const routeId of API_ROUTE_IDS) {
        const route: RouteSpec = ROUTES[routeId];
        for (const { deprecated } of routePaths(route)) {
          const method = methods.find((m) => m.Properties.OperationName === (deprecated ? `${routeId}Deprecated` : routeId));
          expect(method?.Properties).toMatchObject({
            HttpMethod: route.method,
            AuthorizationType: route.roles === 'public' ? 'NONE' : 'AWS_IAM',
            RequestValidatorId: expect.anything(),
            Integration: { Type: 'AWS_PROXY' },
          });
        }
      }
      expect(
        methods
          .filter((m) => m.Properties.AuthorizationType === 'NONE')
          .map((m) => m.Properties.OperationName)
          .sort(),
      ).toEqual(['health', 'openapi']);
      template.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true, ValidateRequestParameters: true });
    });

    it('requires the path parameters of parameterised routes', () => {
      const versionGet = Object.values(template.findResources('AWS::ApiGateway::Method')).find(
        (m) => m.Properties.OperationName === 'versionGet',
      );
      expect(versionGet?.Properties.RequestParameters).toEqual({ 'method.request.path.model': true, 'method.request.path.version': true });
    });

    it("answers API Gateway's own refusals in the handlers' error shape", () => {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: 'BAD_REQUEST_BODY',
        ResponseTemplates: {
          'application/json': Match.serializedJson({
            error: { code: 'VALIDATION_FAILED', message: Match.anyValue(), field: 'body', requestId: '$context.requestId' },
          }),
        },
      });
      const responses = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse'));
      expect(responses.map((r) => r.Properties.ResponseType).sort()).toEqual([
        'ACCESS_DENIED',
        'BAD_REQUEST_BODY',
        'BAD_REQUEST_PARAMETERS',
        'EXPIRED_TOKEN',
        'INVALID_SIGNATURE',
        'MISSING_AUTHENTICATION_TOKEN',
      ]);
      for (const r of responses) {
        const body = JSON.parse(r.Properties.ResponseTemplates['application/json']);
        expect(Object.keys(ErrorCodes)).toContain(body.error.code);
      }
    });

    it('logs access to CloudWatch, traces and throttles the stage', () => {
      template.hasResourceProperties('AWS::ApiGateway::Stage', {
        TracingEnabled: true,
        AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
        MethodSettings: Match.arrayWith([
          Match.objectLike({
            HttpMethod: '*',
            ResourcePath: '/*',
            ThrottlingRateLimit: Match.anyValue(),
            ThrottlingBurstLimit: Match.anyValue(),
            DataTraceEnabled: false,
          }),
        ]),
      });
      const destination = JSON.stringify(template.findResources('AWS::ApiGateway::Stage'));
      expect(destination).toContain(logicalIdOf(synth.stack.restApi.accessLogGroup));
    });

    it("throttles each public route on its own, lower than the stage's, the serving routes on their own, and no other signed route", () => {
      const [stage] = Object.values(template.findResources('AWS::ApiGateway::Stage'));
      const settings = stage!.Properties.MethodSettings as Json[];
      const all = settings.find((m) => m.ResourcePath === '/*');
      expect(all).toMatchObject({ HttpMethod: '*', ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
      const own = settings.filter((m) => m.ResourcePath !== '/*');
      // a method setting's resource path is `/` and the path with its `/` escaped as `~1`
      const publicPaths = API_ROUTE_IDS.filter((id) => ROUTES[id].roles === 'public').flatMap((id) =>
        routePaths(ROUTES[id]).map(({ path }) => `${ROUTES[id].method} /${path.replace(/\//g, '~1')}`),
      );
      expect(publicPaths.sort()).toEqual(['GET /~1healthz', 'GET /~1openapi.json']);
      const servingPaths = (['servingPredict', 'servingFeedback', 'servingStatus'] as const).map(
        (id) => `${ROUTES[id].method} /${ROUTES[id].path.replace(/\//g, '~1')}`,
      );
      expect(own.map((m) => `${m.HttpMethod} ${m.ResourcePath}`).sort()).toEqual([...publicPaths, ...servingPaths].sort());
      for (const m of own)
        expect(m).toMatchObject(
          servingPaths.includes(`${m.HttpMethod} ${m.ResourcePath}`)
            ? { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 }
            : { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
        );
    });
  });

  describe('rollout state machines', () => {
    const MACHINES = [
      ['PromotionStateMachine', 'promotion'],
      ['RollbackStateMachine', 'rollback'],
    ] as const;
    const rolloutStep = () => logicalIdOf(synth.stack.rollouts.rolloutStep.function);
    const rolloutStepRole = () => logicalIdOf(synth.stack.rollouts.rolloutStep.role);
    // a quarantine (and the approval completing one) rolls the artifact's canaries and stables back
    // an abort starts the rollback machine that takes a rollout over; it shares promotionApprove's function
    const STARTERS = [
      'promote',
      'promoteVersion',
      'rollback',
      'promotionApprove',
      'promotionAbort',
      'quarantine',
      'quarantineApprove',
    ] as const;
    const POLICY_DECIDERS = ['promote', 'promoteVersion', 'rollback', 'quarantine', 'quarantineRelease', 'quarantineApprove'] as const;

    it('are exactly two Standard state machines with pinned logical ids (beside the drift and register machines and the example retrain starter)', () => {
      const machines = template.findResources('AWS::StepFunctions::StateMachine');
      expect(Object.keys(machines).sort()).toEqual(
        [
          'DriftStateMachine',
          'RegisterStateMachine',
          logicalIdOf(synth.stack.eventDelivery.examples.retrainStarter),
          'PromotionStateMachine',
          'RollbackStateMachine',
        ].sort(),
      );
      for (const m of Object.values(machines)) expect(m.Properties.StateMachineType ?? 'STANDARD').toBe('STANDARD');
      expect(logicalIdOf(synth.stack.rollouts.stateMachines.promotion)).toBe('PromotionStateMachine');
      expect(logicalIdOf(synth.stack.rollouts.stateMachines.rollback)).toBe('RollbackStateMachine');
    });

    it.each(MACHINES)('%s carries statemachines/%s.asl.json inline, every Task invoking the rollout-step function', (logicalId, file) => {
      const definition = new Capture();
      const substitutions = new Capture();
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        DefinitionString: definition,
        DefinitionSubstitutions: substitutions,
        LoggingConfiguration: {
          Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [`${logicalId}Logs`, 'Arn'] } } }],
        },
      });
      // not an S3 asset: the template itself holds the definition
      expect(template.toJSON().Resources[logicalId].Properties.DefinitionS3Location).toBeUndefined();
      // a string with ${RolloutStepArn} placeholders (or an Fn::Join, were the ARN inlined)
      const captured = (() => {
        try {
          return definition.asString();
        } catch {
          return definition.asObject();
        }
      })();
      const deployed = deployedDefinition(captured, substitutions.asObject());
      const tasks = allStates(deployed).filter(([, state]) => state.Type === 'Task');
      expect(tasks.length).toBeGreaterThan(0);
      for (const [name, state] of tasks)
        expect({ name, resource: state.Resource }).toEqual({ name, resource: { 'Fn::GetAtt': [rolloutStep(), 'Arn'] } });
      // the same machine the local runner executes, placeholders aside
      const source = JSON.parse(readFileSync(join(REPO_ROOT, 'statemachines', `${file}.asl.json`), 'utf8')) as Json;
      const placeholders = (asl: Json) =>
        JSON.parse(JSON.stringify(asl).replace(/\{"Fn::GetAtt":\["[A-Za-z0-9]+","Arn"\]\}/g, '"${RolloutStepArn}"')) as Json;
      expect(placeholders(deployed)).toEqual(source);
    });

    it.each(MACHINES)(
      '%s fences every step by its execution: the rollout-step function gets $$.Execution.Id as the runner, and a lease refusal ends the execution (Superseded), never a rollback',
      (logicalId) => {
        const props = template.toJSON().Resources[logicalId].Properties;
        const deployed = deployedDefinition(props.DefinitionString, props.DefinitionSubstitutions);
        expect(deployed.States.Superseded).toMatchObject({ Type: 'Succeed' });
        for (const [name, state] of allStates(deployed).filter(([, x]) => x.Type === 'Task')) {
          expect({ name, runner: state.Parameters['runner.$'], firstCatch: state.Catch[0] }).toEqual({
            name,
            runner: '$$.Execution.Id',
            firstCatch: { ErrorEquals: ['Aegis.LeaseLost'], ResultPath: '$.error', Next: 'Superseded' },
          });
        }
      },
    );

    it.each(MACHINES)('%s uses JSONPath only (no JSONata anywhere)', (logicalId) => {
      const props = template.toJSON().Resources[logicalId].Properties;
      const deployed = deployedDefinition(props.DefinitionString, props.DefinitionSubstitutions);
      expect([undefined, 'JSONPath']).toContain(deployed.QueryLanguage);
      for (const [name, state] of allStates(deployed))
        expect({ name, language: state.QueryLanguage ?? 'JSONPath' }).toEqual({ name, language: 'JSONPath' });
      expect(JSON.stringify(deployed)).not.toContain('{%');
    });

    it.each(MACHINES)(
      '%s logs ALL events with execution data to an encrypted log group with retention, and traces with X-Ray',
      (logicalId) => {
        expect(template.toJSON().Resources[logicalId].Properties).toMatchObject({
          LoggingConfiguration: {
            Level: 'ALL',
            IncludeExecutionData: true,
            Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [`${logicalId}Logs`, 'Arn'] } } }],
          },
          TracingConfiguration: { Enabled: true },
        });
        const logGroup = template.toJSON().Resources[`${logicalId}Logs`];
        expect(logGroup).toMatchObject({
          Type: 'AWS::Logs::LogGroup',
          Properties: { KmsKeyId: { 'Fn::GetAtt': ['DataKey', 'Arn'] }, RetentionInDays: expect.any(Number) },
        });
        expect(logGroup.Properties.LogGroupName).toMatch(/^\/aws\/vendedlogs\/states\//);
      },
    );

    it('lets CloudWatch Logs use the data key for the two execution log groups only', () => {
      const statements = (template.toJSON().Resources.DataKey.Properties.KeyPolicy.Statement as Json[]).filter(
        (st) =>
          JSON.stringify(st.Principal).includes('logs.') &&
          !['DriftExecutionLogs', 'RegisterExecutionLogs', 'RetrainStarterExecutionLogs'].includes(String(st.Sid)),
      );
      expect(statements).toHaveLength(1);
      const groups = statements[0]!.Condition.ArnEquals['kms:EncryptionContext:aws:logs:arn'] as Json[];
      const names = MACHINES.map(([id]) => template.toJSON().Resources[`${id}Logs`].Properties.LogGroupName as string);
      expect(groups.map((g) => JSON.stringify(g))).toEqual(names.map((n) => expect.stringContaining(`:log-group:${n}"`)));
    });

    it('gives each state machine a role of its own, assumable by Step Functions only, that may invoke the rollout-step function and nothing else', () => {
      const roles = stateMachineRoles();
      expect(new Set(roles).size).toBe(2);
      for (const role of roles) {
        const trust = template.toJSON().Resources[role].Properties.AssumeRolePolicyDocument.Statement as Json[];
        expect(trust.map((st) => st.Principal)).toEqual([{ Service: 'states.amazonaws.com' }]);
        const statements = statementsOfRole(role);
        const invoke = statements.filter((st) => allows(st, 'lambda:InvokeFunction'));
        expect(invoke.flatMap((st) => asList(st.Resource))).toEqual([{ 'Fn::GetAtt': [rolloutStep(), 'Arn'] }]);
        // everything else: log delivery and X-Ray on "*", which have no resource-level permissions
        const rest = statements.filter((st) => !invoke.includes(st));
        for (const st of rest) {
          expect(st.Resource).toBe('*');
          expect(asList(st.Action).filter((a) => !STATE_MACHINE_WILDCARD_ACTIONS.includes(a))).toEqual([]);
        }
        expect(
          actionsOfRole(role).filter((a) => /^(lambda|states|s3|kms|rds-data|secretsmanager):/.test(a) && a !== 'lambda:InvokeFunction'),
        ).toEqual([]);
      }
    });

    it('lets only the state machine roles invoke the rollout-step function, which has no resource policy', () => {
      const invokers = identityStatements(template)
        .filter((e) => allows(e.statement, 'lambda:InvokeFunction') && onResource(e.statement, rolloutStep()))
        .flatMap((e) => e.roles);
      expect([...new Set(invokers)].sort()).toEqual(stateMachineRoles().sort());
      const permissions = Object.values(template.findResources('AWS::Lambda::Permission')).filter((p) =>
        JSON.stringify(p.Properties.FunctionName).includes(rolloutStep()),
      );
      expect(permissions).toEqual([]);
    });

    it('lets only promote, promoteVersion, rollback, promotionApprove, quarantine and quarantineApprove start executions, and only of the two state machines', () => {
      const starts = identityStatements(template).filter(
        (e) =>
          asList(e.statement.Action).some((a) => /^states:/i.test(a) || a === '*') &&
          !onResource(e.statement, 'DriftStateMachine') &&
          // the register machine: test/infra/register-workflow.test.ts
          !onResource(e.statement, 'RegisterStateMachine') &&
          // the example drift-suggestion rule's role (test/infra/event-delivery.test.ts)
          !onResource(e.statement, logicalIdOf(synth.stack.eventDelivery.examples.retrainStarter)),
      );
      expect([...new Set(starts.flatMap((e) => e.roles))].sort()).toEqual([...new Set(STARTERS.map((id) => roleOf(id)))].sort());
      for (const { statement } of starts) {
        expect(asList(statement.Action)).toEqual(['states:StartExecution']);
        expect(asList(statement.Resource)).toEqual([{ Ref: 'PromotionStateMachine' }, { Ref: 'RollbackStateMachine' }]);
      }
      for (const id of STARTERS) expect(ROUTE_ACCESS[id]).toMatchObject({ startRollouts: true });
    });

    it('gives the rollout step the database, both signing keys (Sign, and DescribeKey for the startup check) and no S3 beyond the Object Lock check', () => {
      const role = rolloutStepRole();
      expect(actionsOfRole(role)).toEqual(expect.arrayContaining(['rds-data:ExecuteStatement', 'secretsmanager:GetSecretValue']));
      expect(actionsOfRole(role).filter((a) => a.startsWith('s3:') && !STARTUP_CHECK_ACTIONS.includes(a))).toEqual([]);
      const beyondChecks = (s: Statement) => asList(s.Action).some((a) => !STARTUP_CHECK_ACTIONS.includes(a));
      expect(
        statementsOfRole(role).filter(
          (s) => /ArtifactBucket|AuditArchiveBucket|DataKey/.test(JSON.stringify(s.Resource)) && beyondChecks(s),
        ),
      ).toEqual([]);
      for (const key of ['ManifestSigningKey', 'AuditSigningKey']) {
        // Sign, and DescribeKey for the startup check of the key's spec
        expect(
          new Set(
            statementsOfRole(role)
              .filter((s) => onResource(s, key))
              .flatMap((s) => asList(s.Action)),
          ),
        ).toEqual(new Set(['kms:Sign', 'kms:DescribeKey']));
      }
      expect(actionsOfRole(role).filter((a) => /^states:/.test(a))).toEqual([]);
      // lambda: only invoking the serving function, to warm a blue-green candidate (test/infra/serving-warm-up.test.ts)
      expect(actionsOfRole(role).filter((a) => /^lambda:/.test(a))).toEqual(['lambda:InvokeFunction']);
    });

    const variables = (fn: { function: IConstruct }) =>
      template.toJSON().Resources[logicalIdOf(fn.function)].Properties.Environment.Variables as Json;

    it('gives the functions that start rollouts both state machine ARNs, and no other function either', () => {
      for (const fn of ourFunctions()) {
        const vars = variables(fn);
        const starter = (STARTERS as readonly string[]).some(
          (id) => synth.stack.apiFunctions.functions[id as (typeof STARTERS)[number]] === fn,
        );
        if (starter) {
          expect(vars).toMatchObject({
            AEGIS_PROMOTION_STATE_MACHINE_ARN: { Ref: 'PromotionStateMachine' },
            AEGIS_ROLLBACK_STATE_MACHINE_ARN: { Ref: 'RollbackStateMachine' },
          });
        } else {
          expect([vars.AEGIS_PROMOTION_STATE_MACHINE_ARN, vars.AEGIS_ROLLBACK_STATE_MACHINE_ARN]).toEqual([undefined, undefined]);
        }
      }
    });

    it('points the policy-deciding functions at the policies in their bundle, the drift functions at policies/drift.json alone in theirs, and no other function; SentinelNet is off by default', () => {
      const driftReaders = [
        synth.stack.drift.driftStep,
        synth.stack.driftSchedule.jobFunction,
        ...API_ROUTE_IDS.filter((id) => (ROUTE_ACCESS[id] as RouteAccess).startDriftRuns === true).map(
          (id) => synth.stack.apiFunctions.functions[id],
        ),
      ];
      for (const fn of ourFunctions()) {
        const vars = variables(fn);
        const decider = (POLICY_DECIDERS as readonly string[]).some(
          (id) => synth.stack.apiFunctions.functions[id as (typeof POLICY_DECIDERS)[number]] === fn,
        );
        expect(vars.AEGIS_POLICIES_DIR).toBe(decider ? POLICIES_DIR : undefined);
        expect(vars.AEGIS_DRIFT_POLICY).toBe(driftReaders.includes(fn) ? '/var/task/drift.json' : undefined);
        expect(vars.SENTINELNET_URL).toBeUndefined();
      }
      expect(POLICIES_DIR).toBe('/var/task/policies');
      expect([...POLICY_DECIDING_ROUTES].sort()).toEqual([...POLICY_DECIDERS].sort());
    });
  });

  describe('IAM', () => {
    const signersWith = (keyLogicalId: string) =>
      identityStatements(template)
        .filter((e) => allows(e.statement, 'kms:Sign') && onResource(e.statement, keyLogicalId))
        .flatMap((e) => e.roles)
        .sort();

    it('lets only register, lineageBundle, the three promotion requests, the three quarantine writes and the rollout step sign with the manifest key', () => {
      expect(signersWith('ManifestSigningKey')).toEqual(
        [
          ...new Set([
            roleOf('register'),
            roleOf('lineageBundle'),
            roleOf('promote'),
            roleOf('promoteVersion'),
            roleOf('rollback'),
            roleOf('quarantine'),
            roleOf('quarantineRelease'),
            roleOf('quarantineApprove'),
            logicalIdOf(synth.stack.rollouts.rolloutStep.role),
            // a retrain suggestion's signature
            logicalIdOf(synth.stack.drift.driftStep.role),
            // an asynchronous registration's commit signs its manifest
            logicalIdOf(synth.stack.registration.registerStep.role),
            ...API_ROUTE_IDS.filter((id) => (ROUTE_ACCESS[id] as RouteAccess).signManifests === true).map((id) => roleOf(id)),
          ]),
        ].sort(),
      );
    });

    it('lets only the routes that append audit events (downloads too: artifact.download_issued; serving: serving.verified/refused), both archive functions, the head checkpoint job, migrate and the rollout step sign with the audit key', () => {
      expect(signersWith('AuditSigningKey')).toEqual(
        [
          ...new Set([
            roleOf('register'),
            roleOf('modelTeamSet'),
            roleOf('datasetsCreate'),
            roleOf('keysRotate'),
            roleOf('keysEnroll'),
            roleOf('keysRevoke'),
            roleOf('promote'),
            roleOf('promoteVersion'),
            roleOf('rollback'),
            roleOf('promotionApprove'),
            roleOf('promotionCancel'),
            roleOf('quarantine'),
            roleOf('quarantineRelease'),
            roleOf('quarantineApprove'),
            roleOf('artifactDownload'),
            roleOf('versionDownload'),
            roleOf('envDownload'),
            roleOf('servingPredict'),
            roleOf('auditArchive'),
            logicalIdOf(synth.stack.auditArchiveSchedule.archiveFunction.role),
            logicalIdOf(synth.stack.auditCheckpoint.jobFunction.role),
            logicalIdOf(synth.stack.migrations.migrateFunction.role),
            logicalIdOf(synth.stack.rollouts.rolloutStep.role),
            logicalIdOf(synth.stack.pendingPromotionExpiry.jobFunction.role),
            // drift.report and drift.suggestion events; accepting or dismissing a suggestion
            logicalIdOf(synth.stack.drift.driftStep.role),
            // an asynchronous registration's manifest.signed and artifact.registered events
            logicalIdOf(synth.stack.registration.registerStep.role),
            ...API_ROUTE_IDS.filter((id) => (ROUTE_ACCESS[id] as RouteAccess).signAuditEvents === true).map((id) => roleOf(id)),
          ]),
        ].sort(),
      );
    });

    it('gives the artifact bucket only to the routes that touch artifact objects: health, openapi and the read routes get no S3 object access', () => {
      const touching = API_ROUTE_IDS.filter((id) =>
        actionsOfRole(roleOf(id)).some((a) => /^s3:(GetObject|PutObject|ListBucket)/.test(a)),
      ).sort();
      expect(touching).toEqual([
        'artifactDownload',
        'artifactValidate',
        'auditArchive',
        'auditVerify',
        // the drift bucket's drift-reports/ only (test/infra/drift-workflow.test.ts)
        'driftReportGet',
        'envDownload',
        'promote',
        'promoteVersion',
        'quarantine',
        'quarantineApprove',
        'register',
        'registerInline',
        'rollback',
        'servingPredict',
        // the uploads function: multipart parts
        'uploadParts',
        'uploadsCreate',
        'versionDownload',
        'versionValidate',
      ]);
      for (const id of ['health', 'openapi', 'artifactGet', 'versionGet', 'lineageGet', 'verifyManifest'] as const)
        expect({ id, s3: actionsOfRole(roleOf(id)).filter((a) => a.startsWith('s3:')) }).toEqual({
          id,
          s3: ['s3:GetBucketObjectLockConfiguration'],
        });
    });

    it('grants kms:Sign on nothing but the two signing keys', () => {
      const signing = identityStatements(template).filter((e) => allows(e.statement, 'kms:Sign'));
      expect(signing.length).toBeGreaterThan(0);
      const signingKeys = [{ 'Fn::GetAtt': ['ManifestSigningKey', 'Arn'] }, { 'Fn::GetAtt': ['AuditSigningKey', 'Arn'] }];
      for (const { statement } of signing) for (const resource of asList(statement.Resource)) expect(signingKeys).toContainEqual(resource);
    });

    it('has no statement with Action "*", and no Resource "*" on KMS or S3 actions', () => {
      for (const { policy, statement } of identityStatements(template)) {
        const actions = asList(statement.Action);
        expect({ policy, actions }).not.toEqual({ policy, actions: expect.arrayContaining(['*']) });
        if (asList(statement.Resource).includes('*')) {
          const risky = actions.filter((a) => /^(kms|s3):/.test(a) || a.endsWith(':*'));
          expect({ policy, risky }).toEqual({ policy, risky: [] });
        }
      }
    });

    it('uses Resource "*" only for X-Ray and, on the state machine roles, CloudWatch Logs delivery: neither has resource-level permissions', () => {
      const wildcard = identityStatements(template).filter((e) => asList(e.statement.Resource).includes('*'));
      expect(wildcard.length).toBeGreaterThan(0);
      // every machine's role: the two rollout machines, the drift and register machines and the example retrain starter
      const machineRoles = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).map(
        (m) => (m.Properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0],
      );
      expect(machineRoles).toHaveLength(5);
      for (const { roles, statement } of wildcard) {
        if (roles.every((r) => machineRoles.includes(r))) {
          expect(asList(statement.Action).filter((a) => !STATE_MACHINE_WILDCARD_ACTIONS.includes(a))).toEqual([]);
        } else {
          expect(asList(statement.Action).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
        }
      }
    });

    it('gives every API function Data API access to the cluster, and artifact reads to the routes that read artifacts', () => {
      for (const routeId of API_ROUTE_IDS) {
        const actions = actionsOfRole(roleOf(routeId));
        expect(actions).toEqual(expect.arrayContaining(['rds-data:ExecuteStatement', 'secretsmanager:GetSecretValue']));
        const onArtifacts = statementsOfRole(roleOf(routeId)).filter((s) => onResource(s, 'ArtifactBucket'));
        if ('artifacts' in ROUTE_ACCESS[routeId]) {
          expect(onArtifacts.flatMap((s) => asList(s.Action))).toEqual(expect.arrayContaining(['s3:GetObject', 's3:ListBucket']));
          expect(actions).toContain('kms:Decrypt');
        } else {
          const beyondChecks = onArtifacts.flatMap((s) => asList(s.Action)).filter((a) => !STARTUP_CHECK_ACTIONS.includes(a));
          expect({ routeId, beyondChecks }).toEqual({ routeId, beyondChecks: [] });
        }
      }
    });

    it("gives auditList the database and nothing else: no S3, no KMS beyond its secret (and the startup checks' reads)", () => {
      const actions = actionsOfRole(roleOf('auditList'));
      expect(actions.filter((a) => !/^(logs|xray|rds-data|secretsmanager):/.test(a) && !STARTUP_CHECK_ACTIONS.includes(a))).toEqual([]);
    });

    it('lets every function read what the production startup checks read: Object Lock of both buckets, DescribeKey on both signing keys', () => {
      for (const fn of ourFunctions()) {
        const role = logicalIdOf(fn.role);
        const lock = statementsOfRole(role).filter((s) => allows(s, 's3:GetBucketObjectLockConfiguration'));
        const resources = JSON.stringify(lock.map((s) => s.Resource));
        expect({
          role,
          artifacts: resources.includes('"ArtifactBucket","Arn"'),
          archive: resources.includes('"AuditArchiveBucket","Arn"'),
        }).toEqual({ role, artifacts: true, archive: true });
        // on the buckets themselves, never on objects
        for (const s of lock) for (const r of asList(s.Resource as Json[])) expect(JSON.stringify(r)).not.toMatch(/\/\*/);
        for (const key of ['ManifestSigningKey', 'AuditSigningKey'])
          expect({ role, key, describe: keyActions(role, key).has('kms:DescribeKey') }).toEqual({ role, key, describe: true });
      }
    });

    it('lets no role delete objects, delete versions or bypass governance retention on the artifact or audit buckets', () => {
      const risky = [
        's3:DeleteObject',
        's3:DeleteObjectVersion',
        's3:BypassGovernanceRetention',
        's3:PutBucketObjectLockConfiguration',
        's3:PutLifecycleConfiguration',
      ];
      for (const { policy, statement } of identityStatements(template)) {
        if (!onResource(statement, 'ArtifactBucket') && !onResource(statement, 'AuditArchiveBucket')) continue;
        const found = risky.filter((a) => allows(statement, a));
        expect({ policy, found }).toEqual({ policy, found: [] });
      }
    });

    it('lets only register, uploadsCreate and the register step (an asynchronous commit) write artifacts or set retention', () => {
      const writers = identityStatements(template)
        .filter(
          (e) =>
            onResource(e.statement, 'ArtifactBucket') &&
            (allows(e.statement, 's3:PutObject') || allows(e.statement, 's3:PutObjectRetention')),
        )
        .flatMap((e) => e.roles);
      const registerStep = logicalIdOf(synth.stack.registration.registerStep.role);
      expect([...new Set(writers)].sort()).toEqual([roleOf('register'), roleOf('uploadsCreate'), registerStep].sort());
    });

    it('lets the uploads function (uploads, parts) and register find, list and abort multipart uploads of the artifact bucket, nobody else', () => {
      expect(roleOf('uploadParts')).toBe(roleOf('uploadsCreate'));
      for (const action of ['s3:ListBucketMultipartUploads', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload', 's3:PutObject']) {
        const roles = identityStatements(template)
          .filter((e) => onResource(e.statement, 'ArtifactBucket') && allows(e.statement, action))
          .flatMap((e) => e.roles);
        // the register step puts sidecars (s3:PutObject), never a multipart upload's parts
        const registerStep = action === 's3:PutObject' ? [logicalIdOf(synth.stack.registration.registerStep.role)] : [];
        expect({ action, roles: [...new Set(roles)].sort() }).toEqual({
          action,
          roles: [roleOf('register'), roleOf('uploadsCreate'), ...registerStep].sort(),
        });
      }
    });

    describe('audit archive bucket', () => {
      const scheduledRole = () => logicalIdOf(synth.stack.auditArchiveSchedule.archiveFunction.role);
      const onArchive = () => identityStatements(template).filter((e) => onResource(e.statement, 'AuditArchiveBucket'));

      const checkpointRole = () => logicalIdOf(synth.stack.auditCheckpoint.jobFunction.role);

      it("is touched only by auditVerify, the two archive functions and the head checkpoint job (beyond every function's startup check of its Object Lock)", () => {
        const roles = new Set(
          onArchive()
            .filter((e) => asList(e.statement.Action).some((a) => !STARTUP_CHECK_ACTIONS.includes(a)))
            .flatMap((e) => e.roles),
        );
        expect([...roles].sort()).toEqual([roleOf('auditVerify'), roleOf('auditArchive'), scheduledRole(), checkpointRole()].sort());
      });

      it('can be written (PutObject, PutObjectRetention) only by the auditArchive route, the scheduled archiver and (audit/heads/ only) the head checkpoint job', () => {
        for (const action of ['s3:PutObject', 's3:PutObjectRetention']) {
          const writers = new Set(
            onArchive()
              .filter((e) => allows(e.statement, action))
              .flatMap((e) => e.roles),
          );
          expect([...writers].sort()).toEqual([roleOf('auditArchive'), scheduledRole(), checkpointRole()].sort());
        }
      });

      it('gives auditVerify reads only (GetObject, ListBucket) and the archivers reads and writes, plus the data key', () => {
        const verify = statementsOfRole(roleOf('auditVerify'))
          .filter((s) => onResource(s, 'AuditArchiveBucket'))
          .flatMap((s) => asList(s.Action));
        expect(verify).toEqual(expect.arrayContaining(['s3:GetObject', 's3:ListBucket']));
        expect(verify.filter((a) => !/^s3:(Get|List)/.test(a))).toEqual([]);
        expect(actionsOfRole(roleOf('auditVerify'))).toContain('kms:Decrypt');
        for (const role of [roleOf('auditArchive'), scheduledRole()]) {
          const actions = statementsOfRole(role)
            .filter((s) => onResource(s, 'AuditArchiveBucket'))
            .flatMap((s) => asList(s.Action));
          expect(actions).toEqual(expect.arrayContaining(['s3:PutObject', 's3:PutObjectRetention', 's3:GetObject', 's3:ListBucket']));
          expect(actionsOfRole(role)).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey']));
        }
      });

      it('scopes archive object permissions to the prefix the audit trail writes under', () => {
        expect(segmentKey(1).startsWith(AUDIT_ARCHIVE_PREFIX)).toBe(true);
        expect(checkpointKey(1).startsWith(AUDIT_ARCHIVE_PREFIX)).toBe(true);
        const objectStatements = onArchive().filter((e) =>
          asList(e.statement.Action).some((a) => a.includes('Object') && !STARTUP_CHECK_ACTIONS.includes(a)),
        );
        expect(objectStatements.length).toBeGreaterThan(0);
        for (const { statement, roles } of objectStatements) {
          const prefix = roles.includes(checkpointRole()) ? AUDIT_HEADS_PREFIX : AUDIT_ARCHIVE_PREFIX;
          expect(statement.Resource).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['AuditArchiveBucket', 'Arn'] }, `/${prefix}*`]] });
        }
      });
    });

    const keyActions = (roleId: string, keyLogicalId: string) =>
      new Set(
        statementsOfRole(roleId)
          .filter((s) => onResource(s, keyLogicalId))
          .flatMap((s) => asList(s.Action)),
      );

    it('gives keysRotate DescribeKey and GetPublicKey on both signing keys and Sign on the audit key only, and keysList/verify/validate no signing-key access', () => {
      expect(keyActions(roleOf('keysRotate'), 'ManifestSigningKey')).toEqual(new Set(['kms:DescribeKey', 'kms:GetPublicKey']));
      expect(keyActions(roleOf('keysRotate'), 'AuditSigningKey')).toEqual(new Set(['kms:DescribeKey', 'kms:GetPublicKey', 'kms:Sign']));
      for (const id of ['keysList', 'verifyManifest', 'artifactValidate', 'versionValidate'] as const) {
        const onKeys = statementsOfRole(roleOf(id)).filter((s) => /ManifestSigningKey|AuditSigningKey/.test(JSON.stringify(s.Resource)));
        expect(onKeys.flatMap((s) => asList(s.Action)).filter((a) => a !== 'kms:DescribeKey')).toEqual([]);
      }
    });

    it('gives the migrate function Data API access, key adoption and audit signing, and nothing on S3 but the Object Lock check', () => {
      const role = logicalIdOf(synth.stack.migrations.migrateFunction.role);
      expect(actionsOfRole(role)).toEqual(
        expect.arrayContaining(['rds-data:ExecuteStatement', 'kms:DescribeKey', 'kms:GetPublicKey', 'kms:Sign']),
      );
      expect(actionsOfRole(role).filter((a) => a.startsWith('s3:'))).toEqual(['s3:GetBucketObjectLockConfiguration']);
      expect(keyActions(role, 'ManifestSigningKey')).toEqual(new Set(['kms:DescribeKey', 'kms:GetPublicKey']));
      expect(keyActions(role, 'AuditSigningKey')).toEqual(new Set(['kms:DescribeKey', 'kms:GetPublicKey', 'kms:Sign']));
    });

    it('attaches no AWS managed policies to the function or state machine roles', () => {
      for (const fn of ourFunctions())
        expect(template.toJSON().Resources[logicalIdOf(fn.role)].Properties.ManagedPolicyArns).toBeUndefined();
      for (const role of stateMachineRoles()) expect(template.toJSON().Resources[role].Properties.ManagedPolicyArns).toBeUndefined();
    });
  });

  it('outputs the API URL, bucket names, key ids, cluster ARN, backup retention and the archive dead-letter queue', () => {
    for (const name of [
      'ApiUrl',
      'ArtifactBucketName',
      'AuditArchiveBucketName',
      'ManifestSigningKeyId',
      'AuditSigningKeyId',
      'ClusterArn',
      'AuditArchiveDeadLetterQueueUrl',
    ]) {
      template.hasOutput(name, { Value: Match.anyValue() });
    }
    template.hasOutput('PromotionStateMachineArn', { Value: { Ref: 'PromotionStateMachine' } });
    template.hasOutput('RollbackStateMachineArn', { Value: { Ref: 'RollbackStateMachine' } });
    template.hasOutput('DatabaseBackupRetentionDays', { Value: '14' });
    template.hasOutput('ClusterArn', { Value: { 'Fn::Join': ['', Match.arrayWith([{ Ref: 'RegistryCluster' }])] } });
  });

  it('pins the logical ids of stateful resources', () => {
    const resources = template.toJSON().Resources as Json;
    for (const id of [
      'ManifestSigningKey',
      'AuditSigningKey',
      'DataKey',
      'AccessLogBucket',
      'ArtifactBucket',
      'AuditArchiveBucket',
      'RegistryCluster',
      'RegistryClusterWriter',
      'PromotionStateMachine',
      'RollbackStateMachine',
    ]) {
      expect(resources[id]).toBeDefined();
    }
  });

  it('needs no AWS account or region: environment-agnostic, availability zones from Fn::GetAZs', () => {
    expect(synth.stack.environment).toBe('aws://unknown-account/unknown-region');
    for (const subnet of Object.values(template.findResources('AWS::EC2::Subnet'))) {
      expect(subnet.Properties.AvailabilityZone).toEqual({ 'Fn::Select': [expect.any(Number), { 'Fn::GetAZs': '' }] });
    }
  });
});

describe('cross-region replication', () => {
  let stub: ReturnType<typeof stubProjectRoot>;
  let off: Template;
  let on: Template;
  let synthOn: Synthesized;

  beforeAll(() => {
    stub = stubProjectRoot();
    off = synthAegis({ projectRoot: stub.root }).template;
    synthOn = synthAegis({ projectRoot: stub.root, props: { replication: REPLICA } });
    on = synthOn.template;
  });
  afterAll(() => stub.cleanup());

  const replicationRoles = (t: Template) =>
    Object.entries(t.findResources('AWS::IAM::Role')).filter(([, r]) =>
      JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('s3.amazonaws.com'),
    );

  it('is off without a replication target: no replication configuration, no replication role, and the output says so', () => {
    for (const bucket of Object.values(off.findResources('AWS::S3::Bucket')))
      expect(bucket.Properties.ReplicationConfiguration).toBeUndefined();
    expect(replicationRoles(off)).toEqual([]);
    off.hasOutput('CrossRegionReplication', { Value: 'off', Description: Match.stringLikeRegexp('replicaRegion') });
  });

  it('replicates both data buckets, SSE-KMS objects included, to their replicas with the replica key, and not delete markers', () => {
    const role = logicalIdOf(synthOn.stack.replication!.role);
    for (const [id, destination] of [
      ['ArtifactBucket', REPLICA.artifactBucketArn],
      ['AuditArchiveBucket', REPLICA.auditArchiveBucketArn],
    ] as const) {
      const config = on.toJSON().Resources[id].Properties.ReplicationConfiguration;
      expect(config).toEqual({
        Role: { 'Fn::GetAtt': [role, 'Arn'] },
        Rules: [
          {
            Id: expect.any(String),
            Status: 'Enabled',
            Priority: expect.any(Number),
            Filter: { Prefix: '' },
            DeleteMarkerReplication: { Status: 'Disabled' },
            SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: 'Enabled' } },
            Destination: { Bucket: destination, EncryptionConfiguration: { ReplicaKmsKeyID: REPLICA.kmsKeyArn } },
          },
        ],
      });
      // replication needs versioning (on, and Object Lock keeps it on)
      expect(on.toJSON().Resources[id].Properties).toMatchObject({
        VersioningConfiguration: { Status: 'Enabled' },
        ObjectLockEnabled: true,
      });
    }
    expect(on.toJSON().Resources.AccessLogBucket.Properties.ReplicationConfiguration).toBeUndefined();
    on.hasOutput('CrossRegionReplication', { Value: Match.stringLikeRegexp(`^on: .*${REPLICA.region}`) });
  });

  it('gives the replication role, assumable by S3 only, exactly the replication permissions on the two buckets, their replicas and the two keys', () => {
    const roles = replicationRoles(on);
    expect(roles.map(([id]) => id)).toEqual([logicalIdOf(synthOn.stack.replication!.role)]);
    expect(roles[0]![1].Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' } },
    ]);
    expect(roles[0]![1].Properties.ManagedPolicyArns).toBeUndefined();
    const statements = identityStatements(on)
      .filter((e) => e.roles.includes(roles[0]![0]))
      .map((e) => e.statement);
    const sources = [{ 'Fn::GetAtt': ['ArtifactBucket', 'Arn'] }, { 'Fn::GetAtt': ['AuditArchiveBucket', 'Arn'] }];
    const objectsOf = (arn: unknown) => ({ 'Fn::Join': ['', [arn, '/*']] });
    const byAction = (action: string) => statements.filter((st) => allows(st, action));
    expect(byAction('s3:GetReplicationConfiguration').map((st) => st.Resource)).toEqual([sources]);
    expect(byAction('s3:GetObjectVersionForReplication').map((st) => st.Resource)).toEqual([sources.map(objectsOf)]);
    expect(byAction('s3:GetObjectRetention').map((st) => st.Resource)).toEqual([sources.map(objectsOf)]);
    expect(byAction('s3:ReplicateObject').map((st) => st.Resource)).toEqual([
      [`${REPLICA.artifactBucketArn}/*`, `${REPLICA.auditArchiveBucketArn}/*`],
    ]);
    expect(byAction('kms:Decrypt').map((st) => st.Resource)).toEqual([{ 'Fn::GetAtt': ['DataKey', 'Arn'] }]);
    expect(byAction('kms:Encrypt').map((st) => st.Resource)).toEqual([REPLICA.kmsKeyArn]);
    for (const st of [...byAction('kms:Decrypt'), ...byAction('kms:Encrypt')]) {
      expect(st.Condition).toMatchObject({
        StringEquals: { 'kms:ViaService': expect.anything() },
        StringLike: { 'kms:EncryptionContext:aws:s3:arn': expect.any(Array) },
      });
    }
    expect(JSON.stringify(byAction('kms:Encrypt')[0]!.Condition)).toContain(`s3.${REPLICA.region}.amazonaws.com`);
    // nothing else: no deletes, no delete-marker replication, no ownership override, no wildcards beyond object keys
    const actions = new Set(statements.flatMap((st) => asList(st.Action)));
    expect([...actions].sort()).toEqual(
      [
        's3:GetReplicationConfiguration',
        's3:ListBucket',
        's3:GetObjectVersionForReplication',
        's3:GetObjectVersionAcl',
        's3:GetObjectVersionTagging',
        's3:GetObjectRetention',
        's3:GetObjectLegalHold',
        's3:ReplicateObject',
        's3:ReplicateTags',
        'kms:Decrypt',
        'kms:Encrypt',
        'kms:GenerateDataKey',
      ].sort(),
    );
    const resources = JSON.stringify(statements.map((st) => st.Resource));
    for (const other of ['AccessLogBucket', 'ManifestSigningKey', 'AuditSigningKey', '"*"']) expect(resources).not.toContain(other);
  });

  it('changes nothing else: the same resources apart from the replication role and its policy', () => {
    const ids = (t: Template) => Object.keys(t.toJSON().Resources as Json).sort();
    const replication = Object.keys(on.toJSON().Resources as Json).filter((id) => id.startsWith('Replication'));
    expect(replication).toHaveLength(2);
    expect(ids(on).filter((id) => !replication.includes(id))).toEqual(ids(off));
  });

  const newStack = (replication: Partial<ReplicationTarget>) => () =>
    new AegisStack(new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), 's', {
      envName: 'dev',
      projectRoot: stub.root,
      replication: { ...REPLICA, ...replication },
    });

  it('refuses targets that are not what they claim to be', () => {
    expect(newStack({ region: 'Frankfurt' })).toThrow('replica region Frankfurt is not a region name');
    expect(newStack({ artifactBucketArn: 'aegis-dr-artifacts' })).toThrow(
      /replica artifact bucket aegis-dr-artifacts is not an S3 bucket ARN/,
    );
    expect(newStack({ auditArchiveBucketArn: 'arn:aws:s3:::x/y' })).toThrow(/replica audit-archive bucket .* is not an S3 bucket ARN/);
    expect(newStack({ auditArchiveBucketArn: REPLICA.artifactBucketArn })).toThrow('need replica buckets of their own');
    expect(newStack({ kmsKeyArn: 'arn:aws:kms:eu-central-1:123456789012:alias/dr' })).toThrow(/is not a key ARN/);
    expect(newStack({ kmsKeyArn: REPLICA.kmsKeyArn.replace('eu-central-1', 'us-east-1') })).toThrow(
      /is not in the replica region eu-central-1/,
    );
  });
});

describe('mutual TLS', () => {
  let stub: ReturnType<typeof stubProjectRoot>;
  let off: Synthesized;
  let on: Synthesized;
  let latest: Template;

  beforeAll(() => {
    stub = stubProjectRoot();
    // the web console is off with mutual TLS (test/infra/console-hosting.test.ts): compared without it
    off = synthAegis({ projectRoot: stub.root, props: { console: false } });
    // the context bin/cdk.ts reads, turned into props the way it does
    on = synthAegis({ projectRoot: stub.root, props: { mutualTls: mutualTlsFromContext((key) => MTLS_CONTEXT[key]) } });
    const { truststoreVersion: _, ...withoutVersion } = MTLS;
    latest = synthAegis({ projectRoot: stub.root, props: { mutualTls: withoutVersion } }).template;
  });
  afterAll(() => stub.cleanup());

  /** Every function built from our handlers: API routes, migrate, the scheduled archiver and the rollout step. */
  const ourFunctions = (s: Synthesized) => [
    ...Object.values(s.stack.apiFunctions.functions),
    s.stack.migrations.migrateFunction,
    s.stack.auditArchiveSchedule.archiveFunction,
    s.stack.rollouts.rolloutStep,
  ];
  const variables = (s: Synthesized) =>
    ourFunctions(s).map((fn) => s.template.toJSON().Resources[logicalIdOf(fn.function)].Properties.Environment.Variables as Json);
  const restApi = (t: Template) => Object.values(t.findResources('AWS::ApiGateway::RestApi'));

  it('is off without the context: no custom domain, the execute-api endpoint on, no REQUIRE_MTLS, and the output says so', () => {
    const t = off.template;
    t.resourceCountIs('AWS::ApiGateway::DomainName', 0);
    t.resourceCountIs('AWS::ApiGateway::BasePathMapping', 0);
    expect(restApi(t)).toHaveLength(1);
    expect(restApi(t)[0]!.Properties.DisableExecuteApiEndpoint).toBeUndefined();
    expect(off.stack.restApi.domainName).toBeUndefined();
    for (const vars of variables(off)) expect(vars.REQUIRE_MTLS).toBeUndefined();
    expect(JSON.stringify(t.findResources('AWS::Lambda::Function'))).not.toContain('REQUIRE_MTLS');
    t.hasOutput('MutualTls', {
      Value: 'off',
      Description: Match.stringLikeRegexp('-c domainName, -c certificateArn and -c mtlsTruststoreUri'),
    });
    expect(Object.keys(t.toJSON().Outputs as Json).filter((o) => o.startsWith('ApiRegional'))).toEqual([]);
    expect(JSON.stringify(t.toJSON().Outputs.ApiUrl.Value)).toContain('.execute-api.');
    expect(Object.keys(t.toJSON().Rules as Json)).toEqual(['CheckBootstrapVersion']);
  });

  it('serves the API on a REGIONAL TLS 1.2 custom domain that requires client certificates from the truststore', () => {
    const domains = on.template.findResources('AWS::ApiGateway::DomainName');
    expect(Object.values(domains)).toEqual([
      {
        Type: 'AWS::ApiGateway::DomainName',
        Properties: {
          DomainName: MTLS.domainName,
          RegionalCertificateArn: MTLS.certificateArn,
          EndpointConfiguration: { Types: ['REGIONAL'] },
          SecurityPolicy: 'TLS_1_2',
          MutualTlsAuthentication: { TruststoreUri: MTLS.truststoreUri, TruststoreVersion: MTLS.truststoreVersion },
        },
      },
    ]);
    expect(Object.keys(domains)).toEqual([logicalIdOf(on.stack.restApi.domainName!)]);
  });

  it('uses the latest truststore version when none is given', () => {
    expect(Object.values(latest.findResources('AWS::ApiGateway::DomainName')).map((d) => d.Properties.MutualTlsAuthentication)).toEqual([
      { TruststoreUri: MTLS.truststoreUri },
    ]);
    latest.hasOutput('MutualTls', { Value: 'on', Description: Match.not(Match.stringLikeRegexp('version')) });
  });

  it('maps the domain root to the stage', () => {
    const mappings = Object.values(on.template.findResources('AWS::ApiGateway::BasePathMapping'));
    expect(mappings).toEqual([
      {
        Type: 'AWS::ApiGateway::BasePathMapping',
        Properties: {
          DomainName: { Ref: logicalIdOf(on.stack.restApi.domainName!) },
          RestApiId: { Ref: logicalIdOf(on.stack.restApi.api) },
          Stage: { Ref: logicalIdOf(on.stack.restApi.api.deploymentStage) },
        },
      },
    ]);
    expect(on.template.toJSON().Resources[logicalIdOf(on.stack.restApi.api.deploymentStage)].Properties.StageName).toBe('api');
  });

  it('disables the execute-api endpoint, so clients cannot go around mutual TLS', () => {
    expect(restApi(on.template).map((r) => r.Properties.DisableExecuteApiEndpoint)).toEqual([true]);
  });

  it('sets REQUIRE_MTLS=true on every function built from our handlers', () => {
    const all = variables(on);
    expect(all).toHaveLength(API_ROUTE_IDS.length + 3);
    for (const vars of all) expect(vars.REQUIRE_MTLS).toBe('true');
  });

  it('outputs the regional domain name for the DNS record, its hosted zone, the custom-domain URL and MutualTls on', () => {
    const domain = logicalIdOf(on.stack.restApi.domainName!);
    on.template.hasOutput('ApiRegionalDomainName', {
      Value: { 'Fn::GetAtt': [domain, 'RegionalDomainName'] },
      Description: Match.stringLikeRegexp(MTLS.domainName),
    });
    on.template.hasOutput('ApiRegionalHostedZoneId', { Value: { 'Fn::GetAtt': [domain, 'RegionalHostedZoneId'] } });
    on.template.hasOutput('ApiUrl', { Value: `https://${MTLS.domainName}/` });
    on.template.hasOutput('MutualTls', {
      Value: 'on',
      Description: Match.stringLikeRegexp(`${MTLS.truststoreUri.replace(/[.+]/g, '\\$&')} \\(version`),
    });
  });

  it("refuses at deploy time, before any change, a region other than the certificate's (the stack is environment-agnostic)", () => {
    const rules = on.template.toJSON().Rules as Json;
    const certificateRules = Object.entries(rules).filter(([id]) => id !== 'CheckBootstrapVersion');
    expect(certificateRules).toHaveLength(1);
    expect(certificateRules[0]![1]).toEqual({
      Assertions: [
        {
          Assert: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'eu-west-1'] },
          AssertDescription: expect.stringContaining(MTLS.certificateArn),
        },
      ],
    });
  });

  it('changes nothing else: the same resources apart from the domain and its base path mapping', () => {
    // the deployment's logical id hashes the API's properties, so it changes with them (a new deployment)
    const ids = (t: Template) =>
      Object.keys(t.toJSON().Resources as Json)
        .map((id) => id.replace(/^(ApiRestApiDeployment[A-Z0-9]{8})[0-9a-f]{32}$/, '$1'))
        .sort();
    const added = [
      logicalIdOf(on.stack.restApi.domainName!),
      ...Object.keys(on.template.findResources('AWS::ApiGateway::BasePathMapping')),
    ];
    expect(added).toHaveLength(2);
    expect(ids(on.template).filter((id) => !added.includes(id))).toEqual(ids(off.template));
    // the imported certificate and truststore bucket are references, not resources
    on.template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    expect(Object.keys(on.template.findResources('AWS::S3::Bucket')).sort()).toEqual([
      'AccessLogBucket',
      'ArtifactBucket',
      'AuditArchiveBucket',
      'DriftBucket',
    ]);
  });

  const newStack = (mutualTls: Partial<MutualTlsDomain>, env?: { region: string }) => () =>
    new AegisStack(new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), 's', {
      envName: 'dev',
      projectRoot: stub.root,
      mutualTls: { ...MTLS, ...mutualTls },
      ...(env && { env }),
    });

  it('refuses settings that are not what they claim to be, with what is wrong', () => {
    expect(newStack({ domainName: 'API.example.com' })).toThrow(
      'mTLS domainName API.example.com is not a lower-case DNS name (api.example.com)',
    );
    expect(newStack({ domainName: 'https://api.example.com' })).toThrow(
      'mTLS domainName https://api.example.com is not a lower-case DNS name (api.example.com)',
    );
    expect(newStack({ certificateArn: 'arn:aws:iam::123456789012:server-certificate/api' })).toThrow(
      'mTLS certificateArn arn:aws:iam::123456789012:server-certificate/api is not an ACM certificate ARN (arn:aws:acm:region:account:certificate/id)',
    );
    expect(newStack({ truststoreUri: 'https://aegis-truststore.s3.amazonaws.com/ca.pem' })).toThrow(
      'mTLS truststore https://aegis-truststore.s3.amazonaws.com/ca.pem is not an S3 object URI (s3://bucket/key.pem)',
    );
    expect(newStack({ truststoreUri: 's3://aegis-truststore' })).toThrow(
      'mTLS truststore s3://aegis-truststore is not an S3 object URI (s3://bucket/key.pem)',
    );
    expect(newStack({ truststoreUri: 's3://aegis-truststore/clients/' })).toThrow(
      'mTLS truststore s3://aegis-truststore/clients/ is not an S3 object URI (s3://bucket/key.pem)',
    );
    expect(newStack({ truststoreUri: 's3://Aegis_Truststore/ca.pem' })).toThrow(
      'mTLS truststore s3://Aegis_Truststore/ca.pem is not an S3 object URI (s3://bucket/key.pem)',
    );
    expect(newStack({ truststoreVersion: 'v 1' })).toThrow('mTLS truststore version v 1 is not an S3 object version id');
  });

  it("refuses at synth a certificate from another region than the stack's, when the stack has one", () => {
    expect(newStack({}, { region: 'us-east-1' })).toThrow(
      `mTLS certificateArn ${MTLS.certificateArn} is in eu-west-1, not in the stack's region us-east-1 (a REGIONAL custom domain needs a certificate from its own region)`,
    );
    expect(checkMutualTlsDomain(MTLS, 'eu-west-1')).toEqual({
      certificateRegion: 'eu-west-1',
      truststoreBucket: 'aegis-truststore',
      truststoreKey: 'clients/ca-bundle.pem',
    });
  });

  describe('from context', () => {
    const fromContext = (context: Record<string, unknown>) => () => mutualTlsFromContext((key) => context[key]);

    it('is off with none of the keys (empty values count as none), and on with the three required ones', () => {
      expect(fromContext({})()).toBeUndefined();
      expect(fromContext({ domainName: '', certificateArn: '', mtlsTruststoreUri: '', mtlsTruststoreVersion: '' })()).toBeUndefined();
      expect(fromContext(MTLS_CONTEXT)()).toEqual(MTLS);
      const { mtlsTruststoreVersion: _, ...required } = MTLS_CONTEXT;
      expect(fromContext(required)()).toEqual({
        domainName: MTLS.domainName,
        certificateArn: MTLS.certificateArn,
        truststoreUri: MTLS.truststoreUri,
      });
      expect(Object.values(MUTUAL_TLS_CONTEXT)).toEqual(['domainName', 'certificateArn', 'mtlsTruststoreUri', 'mtlsTruststoreVersion']);
    });

    it('refuses part of the keys, naming the missing ones', () => {
      const none = '(or none of domainName, certificateArn, mtlsTruststoreUri, mtlsTruststoreVersion)';
      expect(fromContext({ domainName: MTLS.domainName })).toThrow(
        `mutual TLS needs context certificateArn, mtlsTruststoreUri as well ${none}`,
      );
      expect(fromContext({ domainName: MTLS.domainName, certificateArn: MTLS.certificateArn })).toThrow(
        `mutual TLS needs context mtlsTruststoreUri as well ${none}`,
      );
      expect(fromContext({ certificateArn: MTLS.certificateArn, mtlsTruststoreUri: MTLS.truststoreUri, domainName: '' })).toThrow(
        `mutual TLS needs context domainName as well ${none}`,
      );
      expect(fromContext({ mtlsTruststoreVersion: MTLS.truststoreVersion })).toThrow(
        `mutual TLS needs context domainName, certificateArn, mtlsTruststoreUri as well ${none}`,
      );
    });
  });
});

describe('RegistryDatabase props', () => {
  const newDatabase = (props: Partial<ConstructorParameters<typeof RegistryDatabase>[2]>) => () => {
    const stack = new Stack(new App(), 's');
    new RegistryDatabase(stack, 'Db', { encryptionKey: new kms.Key(stack, 'Key'), ...props });
  };

  it('refuses backup and maintenance windows RDS would refuse', () => {
    expect(newDatabase({ preferredBackupWindow: '3:00-4:00' })).toThrow('preferredBackupWindow must be hh24:mi-hh24:mi (UTC)');
    expect(newDatabase({ preferredBackupWindow: '03:00-03:15' })).toThrow('preferredBackupWindow must be at least 30 minutes');
    expect(newDatabase({ preferredMaintenanceWindow: 'sunday:04:30-sunday:05:30' })).toThrow(
      'preferredMaintenanceWindow must be ddd:hh24:mi-ddd:hh24:mi (UTC)',
    );
    expect(newDatabase({ preferredBackupWindow: '23:45-00:30' })).not.toThrow();
  });

  it('refuses a backup retention outside 7-35 days', () => {
    expect(newDatabase({ backupRetention: Duration.days(1) })).toThrow('backupRetention must be 7-35 days');
  });
});

describe('AegisStack props', () => {
  const newStack = (props: Partial<ConstructorParameters<typeof AegisStack>[2]>) => () =>
    new AegisStack(new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), 's', {
      envName: 'dev',
      projectRoot: '/nonexistent',
      ...props,
    });

  it('rejects an environment name that cannot name resources', () => {
    expect(newStack({ envName: 'Prod_1' })).toThrow('envName must be 1-20 of a-z 0-9 - starting with a letter');
  });

  it('rejects a role map entry whose role Aegis does not know', () => {
    expect(newStack({ iamRoleMap: { 'arn:aws:iam::123456789012:role/x': 'root' as never } })).toThrow(
      /maps arn:aws:iam::123456789012:role\/x to root; roles are reader, publisher/,
    );
  });

  it('rejects a scoped role map entry that names no prefix or team, naming the entry', () => {
    expect(newStack({ iamRoleMap: { 'arn:aws:iam::123456789012:role/x': { role: 'publisher' } } })).toThrow(
      'iamRoleMap maps arn:aws:iam::123456789012:role/x to an invalid entry: a scoped entry names at least one prefix or team (a role name alone is global)',
    );
  });

  it('rejects a role map key that is not an ARN', () => {
    expect(newStack({ iamRoleMap: { alice: 'admin' } })).toThrow('iamRoleMap key alice is not an IAM principal ARN');
  });
});

describe('SentinelNet and the rollout definitions', () => {
  let stub: ReturnType<typeof stubProjectRoot>;
  beforeAll(() => {
    stub = stubProjectRoot();
  });
  afterAll(() => stub.cleanup());

  it('sets SENTINELNET_URL on exactly the policy-deciding functions when given', () => {
    const { stack, template } = synthAegis({
      projectRoot: stub.root,
      props: { sentinelnetUrl: 'https://sentinelnet.internal.example/v1' },
    });
    const withUrl = Object.entries(stack.apiFunctions.functions)
      .filter(
        ([, fn]) =>
          template.toJSON().Resources[logicalIdOf(fn.function)].Properties.Environment.Variables.SENTINELNET_URL ===
          'https://sentinelnet.internal.example/v1',
      )
      .map(([id]) => id);
    expect(withUrl.sort()).toEqual([...POLICY_DECIDING_ROUTES].sort());
    const others = [stack.rollouts.rolloutStep, stack.migrations.migrateFunction, stack.auditArchiveSchedule.archiveFunction];
    for (const fn of others)
      expect(template.toJSON().Resources[logicalIdOf(fn.function)].Properties.Environment.Variables.SENTINELNET_URL).toBeUndefined();
  });

  const newStack =
    (projectRoot: string, props: Partial<ConstructorParameters<typeof AegisStack>[2]> = {}) =>
    () =>
      new AegisStack(new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), 's', {
        envName: 'dev',
        projectRoot,
        ...props,
      });

  it('refuses a SentinelNet URL that is not http(s)', () => {
    expect(newStack(stub.root, { sentinelnetUrl: 'sentinelnet:8443' })).toThrow('sentinelnetUrl sentinelnet:8443 is not an http(s) URL');
  });

  it('refuses a download URL lifetime outside 30 s to 1 hour', () => {
    expect(newStack(stub.root, { downloadUrlTtl: Duration.seconds(29) })).toThrow(
      'downloadUrlTtl must be whole seconds from 30 to 3600, got 29',
    );
    expect(newStack(stub.root, { downloadUrlTtl: Duration.hours(2) })).toThrow(
      'downloadUrlTtl must be whole seconds from 30 to 3600, got 7200',
    );
  });

  it('refuses a serving segment interval outside 1 s to 2 minutes (the drift settle time)', () => {
    expect(newStack(stub.root, { servingSegmentInterval: Duration.millis(500) })).toThrow(
      'servingSegmentInterval must be whole seconds from 1 to 120 (the drift settle time), got 0.5',
    );
    expect(newStack(stub.root, { servingSegmentInterval: Duration.minutes(3) })).toThrow(
      'servingSegmentInterval must be whole seconds from 1 to 120 (the drift settle time), got 180',
    );
  });

  /** A copy of the stub root whose promotion.asl.json is changed by `edit`. */
  const withPromotionAsl = (edit: (asl: Json) => void) => {
    const root = mkdtempSync(join(tmpdir(), 'aegis-asl-'));
    cpSync(stub.root, root, { recursive: true });
    const file = join(root, 'statemachines', 'promotion.asl.json');
    const asl = JSON.parse(readFileSync(file, 'utf8')) as Json;
    edit(asl);
    writeFileSync(file, JSON.stringify(asl));
    return root;
  };

  it('refuses ASL the local runner would run differently: JSONata, or a Task that calls anything but the rollout step', () => {
    const roots = [
      withPromotionAsl((asl) => {
        asl.QueryLanguage = 'JSONata';
      }),
      withPromotionAsl((asl) => {
        asl.States.Evaluate.QueryLanguage = 'JSONata';
      }),
      withPromotionAsl((asl) => {
        asl.States.StepUp.Resource = 'arn:aws:lambda:us-east-1:123456789012:function:other';
      }),
    ];
    try {
      expect(newStack(roots[0]!)).toThrow(/promotion\.asl\.json: QueryLanguage must be JSONPath/);
      expect(newStack(roots[1]!)).toThrow(/promotion\.asl\.json: state Evaluate uses QueryLanguage JSONata/);
      expect(newStack(roots[2]!)).toThrow(/promotion\.asl\.json: Task StepUp must invoke \$\{RolloutStepArn\}/);
    } finally {
      for (const root of roots) rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('route entries', () => {
  it('point at handler files that exist in the repository, as do migrations and the rollout step', () => {
    const missing = [...API_ROUTE_IDS.map((id) => ROUTES[id].entry), ...NON_ROUTE_ENTRIES].filter(
      (entry) => !existsSync(join(REPO_ROOT, entry)),
    );
    expect(missing).toEqual([]);
  });

  it('include the scheduled export each schedule calls', () => {
    for (const entry of [
      'lambdas/audit-archive.ts',
      'lambdas/audit-checkpoint.ts',
      'lambdas/pending-upload-expiry.ts',
      'lambdas/pending-promotion-expiry.ts',
      'lambdas/serving-retention.ts',
      'lambdas/event-dispatch.ts',
    ])
      expect({ entry, scheduled: /^export const scheduled\b/m.test(readFileSync(join(REPO_ROOT, entry), 'utf8')) }).toEqual({
        entry,
        scheduled: true,
      });
  });
});
