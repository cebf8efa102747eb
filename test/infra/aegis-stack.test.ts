import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Capture, Match, type Template } from 'aws-cdk-lib/assertions';
import { ErrorCodes } from '../../lib/core/errors.js';
import { ROUTES } from '../../lib/http/routes.js';
import { API_ROUTE_IDS, ROUTE_ACCESS } from '../../lib/infra/api-functions.js';
import { AegisStack, REPO_ROOT } from '../../lib/infra/aegis-stack.js';
import { logicalIdOf } from '../../lib/infra/pin.js';
import { CDK_JSON_CONTEXT, stubProjectRoot, synthAegis, type Synthesized } from './support.js';

type Json = Record<string, any>;
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

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

describe('AegisStack template', () => {
  let stub: ReturnType<typeof stubProjectRoot>;
  let synth: Synthesized;
  let template: Template;
  const roleOf = (routeId: keyof typeof ROUTE_ACCESS) => logicalIdOf(synth.stack.apiFunctions.functions[routeId].role);
  const statementsOfRole = (roleLogicalId: string) => identityStatements(template).filter((e) => e.roles.includes(roleLogicalId)).map((e) => e.statement);
  const actionsOfRole = (roleLogicalId: string) => statementsOfRole(roleLogicalId).flatMap((s) => asList(s.Action));

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
      expect(template.toJSON().Resources.AuditArchiveBucket.Properties.ObjectLockConfiguration.Rule.DefaultRetention.Mode).toBe('COMPLIANCE');
      expect(days.asNumber()).toBeGreaterThanOrEqual(365);
      expect(template.toJSON().Resources.ArtifactBucket.Properties.ObjectLockConfiguration?.Rule).toBeUndefined();
    });

    it('blocks all public access, encrypts, versions and retains every bucket', () => {
      const buckets = template.findResources('AWS::S3::Bucket');
      expect(Object.keys(buckets).sort()).toEqual(['AccessLogBucket', 'ArtifactBucket', 'AuditArchiveBucket']);
      for (const bucket of Object.values(buckets)) {
        expect(bucket).toMatchObject({
          DeletionPolicy: 'Retain',
          Properties: {
            PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
            VersioningConfiguration: { Status: 'Enabled' },
            BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: expect.any(String) } }] },
          },
        });
      }
    });

    it('encrypts artifacts and the audit archive with the customer managed data key', () => {
      for (const id of ['ArtifactBucket', 'AuditArchiveBucket']) {
        expect(template.toJSON().Resources[id].Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual({
          SSEAlgorithm: 'aws:kms',
          KMSMasterKeyID: { 'Fn::GetAtt': ['DataKey', 'Arn'] },
        });
      }
    });

    it('sends server access logs of both data buckets to the log bucket', () => {
      for (const id of ['ArtifactBucket', 'AuditArchiveBucket']) {
        expect(template.toJSON().Resources[id].Properties.LoggingConfiguration).toMatchObject({ DestinationBucketName: { Ref: 'AccessLogBucket' } });
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
      for (const id of ['AccessLogBucket', 'ArtifactBucket', 'AuditArchiveBucket']) {
        template.hasResourceProperties('AWS::S3::BucketPolicy', {
          Bucket: { Ref: id },
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({ Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
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

    it('keeps the database in isolated subnets: no NAT gateway, no internet gateway', () => {
      template.resourceCountIs('AWS::EC2::NatGateway', 0);
      template.resourceCountIs('AWS::EC2::InternetGateway', 0);
      template.resourceCountIs('AWS::EC2::Subnet', 2);
      template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL' });
    });
  });

  describe('functions', () => {
    it('creates one Lambda per route that is not local-only, and none for local-only routes', () => {
      const expected = Object.values(ROUTES).filter((r) => !('localOnly' in r && r.localOnly)).map((r) => r.id);
      expect([...API_ROUTE_IDS].sort()).toEqual([...expected].sort());
      expect(Object.keys(synth.stack.apiFunctions.functions).sort()).toEqual([...expected].sort());
      const functions = template.findResources('AWS::Lambda::Function');
      for (const routeId of API_ROUTE_IDS) {
        const route = ROUTES[routeId];
        const fn = functions[logicalIdOf(synth.stack.apiFunctions.functions[routeId].function)];
        expect(fn?.Properties.Description).toBe(`${route.method} ${route.path}: ${route.summary}`.slice(0, 256));
      }
      const described = Object.values(functions).map((f) => String(f.Properties.Description ?? ''));
      expect(described.filter((d) => d.includes(ROUTES.tokensCreate.path))).toEqual([]);
      // the API functions, migrate, the custom resource framework and CDK's default-SG restriction
      expect(Object.keys(functions)).toHaveLength(API_ROUTE_IDS.length + 3);
    });

    it('runs every handler on the newest Node.js runtime, ARM64, traced, with JSON logs', () => {
      const ours = [...Object.values(synth.stack.apiFunctions.functions), synth.stack.migrations.migrateFunction];
      for (const fn of ours) {
        expect(template.toJSON().Resources[logicalIdOf(fn.function)].Properties).toMatchObject({
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          Handler: 'index.handler',
          TracingConfig: { Mode: 'Active' },
          LoggingConfig: { LogFormat: 'JSON' },
        });
      }
    });

    it('configures every function for AWS mode through the environment', () => {
      const url = new Capture();
      const ours = [...Object.values(synth.stack.apiFunctions.functions), synth.stack.migrations.migrateFunction];
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
          AEGIS_IAM_ROLE_MAP: JSON.stringify({ 'arn:aws:iam::123456789012:role/ci': 'publisher' }),
          POWERTOOLS_SERVICE_NAME: 'aegis',
          NODE_OPTIONS: '--enable-source-maps',
        });
      }
      template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { MODEL_REGISTRY_DATABASE_URL: url } } });
      const [first, ...rest] = url.asObject()['Fn::Join'][1] as unknown[];
      expect(first).toBe('rdsdata://aegis?resourceArn=arn:');
      expect(JSON.stringify(rest)).toContain('{"Ref":"RegistryCluster"}');
      expect(JSON.stringify(rest)).toContain('"&secretArn="');
      expect(JSON.stringify(rest)).toContain('{"Fn::GetAtt":["RegistryCluster","MasterUserSecret.SecretArn"]}');
    });

    it('deploys new handler code only after the migrations custom resource has run', () => {
      const migration = logicalIdOf(synth.stack.migrations.resource);
      template.hasResourceProperties('Custom::AegisMigrations', { ServiceToken: Match.anyValue(), DeployNonce: 'test-deploy' });
      for (const fn of Object.values(synth.stack.apiFunctions.functions)) {
        expect(template.toJSON().Resources[logicalIdOf(fn.function)].DependsOn).toContain(migration);
      }
    });
  });

  describe('API Gateway', () => {
    it('has one method per API route, AWS_IAM except on public routes, each with request validation', () => {
      const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
      expect(methods).toHaveLength(API_ROUTE_IDS.length);
      for (const routeId of API_ROUTE_IDS) {
        const route = ROUTES[routeId];
        const method = methods.find((m) => m.Properties.OperationName === routeId);
        expect(method?.Properties).toMatchObject({
          HttpMethod: route.method,
          AuthorizationType: route.roles === 'public' ? 'NONE' : 'AWS_IAM',
          RequestValidatorId: expect.anything(),
          Integration: { Type: 'AWS_PROXY' },
        });
      }
      expect(methods.filter((m) => m.Properties.AuthorizationType === 'NONE').map((m) => m.Properties.OperationName).sort()).toEqual(['health', 'openapi']);
      template.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true, ValidateRequestParameters: true });
    });

    it('requires the path parameters of parameterised routes', () => {
      const versionGet = Object.values(template.findResources('AWS::ApiGateway::Method')).find((m) => m.Properties.OperationName === 'versionGet');
      expect(versionGet?.Properties.RequestParameters).toEqual({ 'method.request.path.model': true, 'method.request.path.version': true });
    });

    it("answers API Gateway's own refusals in the handlers' error shape", () => {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: 'BAD_REQUEST_BODY',
        ResponseTemplates: {
          'application/json': Match.serializedJson({ error: { code: 'VALIDATION_FAILED', message: Match.anyValue(), field: 'body', requestId: '$context.requestId' } }),
        },
      });
      const responses = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse'));
      expect(responses.map((r) => r.Properties.ResponseType).sort()).toEqual(
        ['ACCESS_DENIED', 'BAD_REQUEST_BODY', 'BAD_REQUEST_PARAMETERS', 'EXPIRED_TOKEN', 'INVALID_SIGNATURE', 'MISSING_AUTHENTICATION_TOKEN'],
      );
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
          Match.objectLike({ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue(), DataTraceEnabled: false }),
        ]),
      });
      const destination = JSON.stringify(template.findResources('AWS::ApiGateway::Stage'));
      expect(destination).toContain(logicalIdOf(synth.stack.restApi.accessLogGroup));
    });
  });

  describe('IAM', () => {
    it('lets only the register and lineage-bundle functions sign, and only with the manifest key', () => {
      const signers = identityStatements(template).filter((e) => asList(e.statement.Action).some((a) => a === 'kms:Sign' || a === 'kms:*' || a === '*'));
      expect(signers.flatMap((e) => e.roles).sort()).toEqual([roleOf('register'), roleOf('lineageBundle')].sort());
      expect(signers.map((e) => e.statement.Resource)).toEqual([{ 'Fn::GetAtt': ['ManifestSigningKey', 'Arn'] }, { 'Fn::GetAtt': ['ManifestSigningKey', 'Arn'] }]);
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

    it('uses Resource "*" only for X-Ray, which has no resource-level permissions', () => {
      const wildcard = identityStatements(template).filter((e) => asList(e.statement.Resource).includes('*'));
      expect(wildcard.length).toBeGreaterThan(0);
      for (const { statement } of wildcard) expect(asList(statement.Action).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    });

    it('gives every API function Data API access to the cluster and read access to artifacts', () => {
      for (const routeId of API_ROUTE_IDS) {
        const actions = actionsOfRole(roleOf(routeId));
        expect(actions).toEqual(expect.arrayContaining(['rds-data:ExecuteStatement', 'secretsmanager:GetSecretValue', 's3:GetObject', 's3:ListBucket', 'kms:Decrypt']));
        expect(actions).not.toContain('s3:DeleteObject');
        expect(actions).not.toContain('s3:BypassGovernanceRetention');
      }
    });

    it('lets only register and uploadsCreate write artifacts or set retention', () => {
      const writers = API_ROUTE_IDS.filter((id) => actionsOfRole(roleOf(id)).some((a) => a === 's3:PutObject' || a === 's3:PutObjectRetention'));
      expect(writers.sort()).toEqual(['register', 'uploadsCreate']);
    });

    it('gives keysRotate only DescribeKey and GetPublicKey on the signing keys, and keysList/verify/validate no signing-key access', () => {
      const onSigningKeys = (roleId: string) =>
        statementsOfRole(roleId).filter((s) => /ManifestSigningKey|AuditSigningKey/.test(JSON.stringify(s.Resource)));
      const rotate = onSigningKeys(roleOf('keysRotate'));
      expect(new Set(rotate.flatMap((s) => asList(s.Action)))).toEqual(new Set(['kms:DescribeKey', 'kms:GetPublicKey']));
      expect(JSON.stringify(rotate.map((s) => s.Resource))).toMatch(/ManifestSigningKey/);
      expect(JSON.stringify(rotate.map((s) => s.Resource))).toMatch(/AuditSigningKey/);
      for (const id of ['keysList', 'verifyManifest', 'artifactValidate'] as const) expect(onSigningKeys(roleOf(id))).toEqual([]);
    });

    it('gives the migrate function Data API access and key adoption, and nothing on S3', () => {
      const actions = actionsOfRole(logicalIdOf(synth.stack.migrations.migrateFunction.role));
      expect(actions).toEqual(expect.arrayContaining(['rds-data:ExecuteStatement', 'kms:DescribeKey', 'kms:GetPublicKey']));
      expect(actions.filter((a) => a.startsWith('s3:') || a === 'kms:Sign')).toEqual([]);
    });

    it('attaches no AWS managed policies to the function roles', () => {
      const ours = [...Object.values(synth.stack.apiFunctions.functions), synth.stack.migrations.migrateFunction];
      for (const fn of ours) expect(template.toJSON().Resources[logicalIdOf(fn.role)].Properties.ManagedPolicyArns).toBeUndefined();
    });
  });

  it('outputs the API URL, bucket names, key ids and cluster ARN', () => {
    for (const name of ['ApiUrl', 'ArtifactBucketName', 'AuditArchiveBucketName', 'ManifestSigningKeyId', 'AuditSigningKeyId', 'ClusterArn']) {
      template.hasOutput(name, { Value: Match.anyValue() });
    }
    template.hasOutput('ClusterArn', { Value: { 'Fn::Join': ['', Match.arrayWith([{ Ref: 'RegistryCluster' }])] } });
  });

  it('pins the logical ids of stateful resources', () => {
    const resources = template.toJSON().Resources as Json;
    for (const id of ['ManifestSigningKey', 'AuditSigningKey', 'DataKey', 'AccessLogBucket', 'ArtifactBucket', 'AuditArchiveBucket', 'RegistryCluster', 'RegistryClusterWriter']) {
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

describe('AegisStack props', () => {
  const newStack = (props: Partial<ConstructorParameters<typeof AegisStack>[2]>) => () =>
    new AegisStack(new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), 's', { envName: 'dev', projectRoot: '/nonexistent', ...props });

  it('rejects an environment name that cannot name resources', () => {
    expect(newStack({ envName: 'Prod_1' })).toThrow('envName must be 1-20 of a-z 0-9 - starting with a letter');
  });

  it('rejects a role map entry whose role Aegis does not know', () => {
    expect(newStack({ iamRoleMap: { 'arn:aws:iam::123456789012:role/x': 'root' as never } })).toThrow(/maps arn:aws:iam::123456789012:role\/x to root; roles are publisher/);
  });

  it('rejects a role map key that is not an ARN', () => {
    expect(newStack({ iamRoleMap: { alice: 'admin' } })).toThrow('iamRoleMap key alice is not an IAM principal ARN');
  });
});

describe('route entries', () => {
  it('point at handler files that exist in the repository, as do migrations', () => {
    const missing = [...API_ROUTE_IDS.map((id) => ROUTES[id].entry), 'lambdas/migrate.ts'].filter((entry) => !existsSync(join(REPO_ROOT, entry)));
    expect(missing).toEqual([]);
  });
});
