import type { RouteAccess } from '../../lib/infra/access.js';
import { Duration } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { SERVING_CACHE_MB, SERVING_EPHEMERAL_STORAGE_MB } from '../../lib/infra/serving-storage.js';
import { API_ROUTE_IDS, DEFAULT_SERVING_MEMORY_MB, ROUTE_ACCESS } from '../../lib/infra/api-functions.js';
import { logicalIdOf } from '../../lib/infra/pin.js';
import { DEFAULT_SERVING_THROTTLE } from '../../lib/infra/rest-api.js';
import { SERVING_EVENT_FILTER_PATTERN } from '../../lib/modules/serving/event-log.js';
import { ROUTES } from '../../lib/platform/http/routes.js';
import { allAlarms, stubProjectRoot, synthAegis, type Synthesized } from './support.js';

type Json = Record<string, any>;
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every Allow action of the identity policies attached to the role of logical id `roleId`. */
function actionsOf(template: Template, roleId: string): { action: string; resource: string }[] {
  const out: { action: string; resource: string }[] = [];
  for (const p of Object.values(template.findResources('AWS::IAM::Policy')) as Json[]) {
    if (!asList(p.Properties.Roles).some((r: Json) => r.Ref === roleId)) continue;
    for (const s of p.Properties.PolicyDocument.Statement as Statement[]) {
      if (s.Effect !== 'Allow') continue;
      for (const a of asList(s.Action)) out.push({ action: a, resource: JSON.stringify(s.Resource) });
    }
  }
  return out;
}

describe('serving on AWS (template)', () => {
  let stub: ReturnType<typeof stubProjectRoot>;
  let synth: Synthesized;
  let template: Template;
  let resources: Record<string, Json>;
  beforeAll(() => {
    stub = stubProjectRoot();
    synth = synthAegis({ projectRoot: stub.root });
    template = synth.template;
    resources = template.toJSON().Resources;
  });
  afterAll(() => stub.cleanup());

  const serving = () => synth.stack.apiFunctions.functions.servingPredict;
  const ingest = () => synth.stack.servingIngest.ingestFunction;

  it('deploys the predict route as its own x86_64 function with the default serving memory, behind IAM auth', () => {
    const fn = resources[logicalIdOf(serving().function)]!;
    expect(fn.Properties).toMatchObject({ Architectures: ['x86_64'], MemorySize: DEFAULT_SERVING_MEMORY_MB, Handler: 'index.handler' });
    expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
    const method = resources[logicalIdOf(synth.stack.restApi.methods.servingPredict)]!;
    expect(method.Properties).toMatchObject({ HttpMethod: 'POST', AuthorizationType: 'AWS_IAM' });
    expect(JSON.stringify(method.Properties.Integration)).toContain(logicalIdOf(serving().function));
  });

  it('gives the serving methods a throttle of their own on the stage', () => {
    const stage = Object.values(template.findResources('AWS::ApiGateway::Stage'))[0] as Json;
    const settings = stage.Properties.MethodSettings as Json[];
    const path = `/${ROUTES.servingPredict.path.replace(/\//g, '~1')}`;
    expect(settings).toContainEqual(
      expect.objectContaining({
        HttpMethod: 'POST',
        ResourcePath: path,
        ThrottlingRateLimit: DEFAULT_SERVING_THROTTLE.rateLimit,
        ThrottlingBurstLimit: DEFAULT_SERVING_THROTTLE.burstLimit,
      }),
    );
  });

  it('takes memory, reserved concurrency and the throttle from the environment configuration', () => {
    const configured = synthAegis({
      projectRoot: stub.root,
      props: { serving: { memoryMb: 3008, reservedConcurrency: 20 }, throttling: { serving: { rateLimit: 400, burstLimit: 800 } } },
    });
    const fn = configured.template.toJSON().Resources[logicalIdOf(configured.stack.apiFunctions.functions.servingPredict.function)];
    expect(fn.Properties).toMatchObject({ MemorySize: 3008, ReservedConcurrentExecutions: 20 });
    const stage = Object.values(configured.template.findResources('AWS::ApiGateway::Stage'))[0] as Json;
    expect(stage.Properties.MethodSettings).toContainEqual(
      expect.objectContaining({ ThrottlingRateLimit: 400, ThrottlingBurstLimit: 800 }),
    );
    expect(() => synthAegis({ projectRoot: stub.root, props: { serving: { reservedConcurrency: 0 } } })).toThrow(
      /reservedConcurrentExecutions/,
    );
  });

  it('keeps provisioned environments on a live alias that the predict method invokes, when the environment asks for them', () => {
    const configured = synthAegis({ projectRoot: stub.root, props: { serving: { reservedConcurrency: 20, provisionedConcurrency: 4 } } });
    const fn = configured.stack.apiFunctions.functions.servingPredict;
    const aliases = Object.entries(configured.template.findResources('AWS::Lambda::Alias')) as [string, Json][];
    expect(aliases).toHaveLength(1);
    const [aliasId, alias] = aliases[0]!;
    expect(alias.Properties).toMatchObject({
      Name: 'live',
      FunctionName: { Ref: logicalIdOf(fn.function) },
      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 4 },
    });
    const method = Object.values(configured.template.findResources('AWS::ApiGateway::Method')).find(
      (m: Json) => m.Properties.HttpMethod === 'POST' && JSON.stringify(m.Properties.Integration.Uri).includes(aliasId),
    );
    expect(method).toBeDefined();
    // the other routes still invoke their functions directly, and without the setting there is no alias
    expect(Object.keys(synth.template.findResources('AWS::Lambda::Alias'))).toEqual([]);
    expect(() => synthAegis({ projectRoot: stub.root, props: { serving: { reservedConcurrency: 2, provisionedConcurrency: 3 } } })).toThrow(
      'provisionedConcurrency (3) must not exceed reservedConcurrentExecutions (2)',
    );
  });

  it('lets serving read artifacts and put input segments only: no other put, no delete, no archive, no rollouts, no manifest key', () => {
    expect(ROUTE_ACCESS.servingPredict).toEqual({ artifacts: 'read', signAuditEvents: true, driftInputs: 'write' });
    const actions = actionsOf(template, logicalIdOf(serving().role));
    const names = actions.map((a) => a.action);
    expect(names).toEqual(expect.arrayContaining(['s3:GetObject', 's3:GetObjectVersion']));
    const drift = logicalIdOf(synth.stack.storage.driftBucket);
    // the one write: PutObject on the drift bucket's serving-inputs/, and the data key S3 asks for it
    expect(
      actions.filter((a) => /^s3:(Put|Delete|Abort)|^states:|kms:GenerateDataKey|^logs:(Put|Create)SubscriptionFilter/.test(a.action)),
    ).toEqual([
      { action: 's3:PutObject', resource: JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [drift, 'Arn'] }, '/serving-inputs/*']] }) },
      { action: 'kms:GenerateDataKey', resource: JSON.stringify({ 'Fn::GetAtt': [logicalIdOf(synth.stack.keys.dataKey), 'Arn'] }) },
    ]);
    // nothing else of the drift bucket: no read, list, tag or delete
    expect(actions.filter((a) => a.resource.includes(drift)).map((a) => a.action)).toEqual(['s3:PutObject']);
    const artifactBucket = logicalIdOf(synth.stack.storage.artifactBucket);
    const archiveBucket = logicalIdOf(synth.stack.storage.auditArchiveBucket);
    // object reads on the artifact bucket only (the archive bucket: its lock configuration, the startup check)
    for (const a of actions.filter((x) => x.action.startsWith('s3:Get') && x.action !== 's3:GetBucketObjectLockConfiguration'))
      expect({ a: a.action, artifacts: a.resource.includes(artifactBucket), archive: a.resource.includes(archiveBucket) }).toEqual({
        a: a.action,
        artifacts: true,
        archive: false,
      });
    const signs = actions.filter((a) => a.action === 'kms:Sign').map((a) => a.resource);
    expect(signs).toEqual([expect.stringContaining(logicalIdOf(synth.stack.keys.auditSigningKey))]);
  });

  it("asks the data key for a data key only through S3, for the drift bucket's encryption context", () => {
    const statements = (Object.values(template.findResources('AWS::IAM::Policy')) as Json[])
      .filter((p) => asList(p.Properties.Roles).some((r: Json) => r.Ref === logicalIdOf(serving().role)))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[])
      .filter((st) => asList(st.Action).includes('kms:GenerateDataKey'));
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: 'kms:GenerateDataKey',
        Resource: { 'Fn::GetAtt': [logicalIdOf(synth.stack.keys.dataKey), 'Arn'] },
        Condition: {
          StringEquals: {
            'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
            'kms:EncryptionContext:aws:s3:arn': { 'Fn::GetAtt': [logicalIdOf(synth.stack.storage.driftBucket), 'Arn'] },
          },
        },
      },
    ]);
  });

  /** The functions granted part of the drift bucket: serving, the drift step, and the routes given drift store access (the report body). */
  const driftUsers = () => [
    ...new Set([
      serving(),
      synth.stack.drift.driftStep,
      ...API_ROUTE_IDS.filter((id) => (ROUTE_ACCESS[id] as RouteAccess).driftStore).map((id) => synth.stack.apiFunctions.functions[id]),
    ]),
  ];

  it('lets no other function than serving, the drift step and the drift report route write to, read from or list the drift bucket', () => {
    const drift = logicalIdOf(synth.stack.storage.driftBucket);
    const touching = (Object.values(template.findResources('AWS::IAM::Policy')) as Json[])
      .filter((p) => JSON.stringify(p.Properties.PolicyDocument).includes(`"${drift}"`))
      .flatMap((p) => asList(p.Properties.Roles).map((r: Json) => r.Ref as string));
    expect([...new Set(touching)].sort()).toEqual(
      driftUsers()
        .map((f) => logicalIdOf(f.role))
        .sort(),
    );
    // the only Allow in its bucket policy is S3 logging's (deny non-TLS aside): no principal is granted objects there
    const policy = Object.values(template.findResources('AWS::S3::BucketPolicy')).find(
      (p) => (p as Json).Properties.Bucket.Ref === drift,
    ) as Json;
    expect((policy.Properties.PolicyDocument.Statement as Json[]).filter((st) => st.Effect === 'Allow')).toEqual([]);
  });

  it('gives the serving function DRIFT_S3_BUCKET, the cache budget and the /tmp to hold it; no function the bucket but those granted part of it', () => {
    const vars = resources[logicalIdOf(serving().function)]!.Properties.Environment.Variables as Json;
    expect(vars).toMatchObject({
      DRIFT_S3_BUCKET: { Ref: logicalIdOf(synth.stack.storage.driftBucket) },
      AEGIS_SERVING_CACHE_MB: String(SERVING_CACHE_MB),
      AEGIS_SERVING_RETENTION_DAYS: '14',
    });
    expect(resources[logicalIdOf(serving().function)]!.Properties.EphemeralStorage).toEqual({ Size: SERVING_EPHEMERAL_STORAGE_MB });
    expect(SERVING_EPHEMERAL_STORAGE_MB).toBeGreaterThan(SERVING_CACHE_MB);
    const users = driftUsers().map((f) => logicalIdOf(f.function));
    for (const id of users)
      expect({ id, drift: resources[id]!.Properties.Environment.Variables.DRIFT_S3_BUCKET }).toEqual({
        id,
        drift: { Ref: logicalIdOf(synth.stack.storage.driftBucket) },
      });
    const others = (Object.entries(template.findResources('AWS::Lambda::Function')) as [string, Json][]).filter(
      ([id]) => !users.includes(id),
    );
    expect(others.length).toBeGreaterThan(10);
    for (const [id, fn] of others)
      expect({ id, drift: fn.Properties.Environment?.Variables?.DRIFT_S3_BUCKET }).toEqual({ id, drift: undefined });
  });

  it('keeps the drift bucket encrypted, TLS-only, private, versioned, logged, without Object Lock', () => {
    const bucket = resources[logicalIdOf(synth.stack.storage.driftBucket)]!;
    expect(bucket).toMatchObject({ DeletionPolicy: 'Retain' });
    expect(bucket.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': [logicalIdOf(synth.stack.keys.dataKey), 'Arn'] },
            },
          },
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: { DestinationBucketName: { Ref: logicalIdOf(synth.stack.storage.accessLogBucket) }, LogFilePrefix: 'drift/' },
    });
    expect(bucket.Properties.ObjectLockEnabled ?? false).toBe(false);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalIdOf(synth.stack.storage.driftBucket) },
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
  });

  it('expires serving-inputs/ after the serving retention horizon (14 days by default, or as configured)', () => {
    const rules = (b: Json) => b.Properties.LifecycleConfiguration.Rules as Json[];
    const drift = resources[logicalIdOf(synth.stack.storage.driftBucket)]!;
    expect(rules(drift)).toEqual([
      {
        Id: 'expire-serving-inputs',
        Status: 'Enabled',
        Prefix: 'serving-inputs/',
        ExpirationInDays: 14,
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
      { Id: 'remove-expired-delete-markers', Status: 'Enabled', Prefix: 'serving-inputs/', ExpiredObjectDeleteMarker: true },
    ]);
    const configured = synthAegis({ projectRoot: stub.root, props: { servingRetention: Duration.days(30) } });
    const res = configured.template.toJSON().Resources;
    expect(rules(res[logicalIdOf(configured.stack.storage.driftBucket)]).find((r) => r.Id === 'expire-serving-inputs')).toMatchObject({
      ExpirationInDays: 30,
    });
    expect(
      res[logicalIdOf(configured.stack.apiFunctions.functions.servingPredict.function)].Properties.Environment.Variables,
    ).toMatchObject({
      AEGIS_SERVING_RETENTION_DAYS: '30',
    });
    for (const bad of [Duration.days(0), Duration.hours(36), Duration.days(3651)])
      expect(() => synthAegis({ projectRoot: stub.root, props: { servingRetention: bad } })).toThrow(
        /servingRetention must be a whole number of days/,
      );
  });

  it('deploys feedback and status in one function of their own (servingTelemetry) behind IAM auth, with the database and nothing of the buckets or keys beyond the startup checks', () => {
    expect(synth.stack.apiFunctions.functions.servingFeedback).toBe(synth.stack.apiFunctions.byName.servingTelemetry);
    expect(synth.stack.apiFunctions.functions.servingStatus).toBe(synth.stack.apiFunctions.byName.servingTelemetry);
    for (const id of ['servingFeedback', 'servingStatus'] as const) {
      expect({ id, access: ROUTE_ACCESS[id] }).toEqual({ id, access: {} });
      const fn = synth.stack.apiFunctions.functions[id];
      const props = resources[logicalIdOf(fn.function)]!.Properties;
      expect(props).toMatchObject({ Handler: 'index.handler', Architectures: ['x86_64'] });
      // the default memory, not the serving function's full vCPU
      expect(props.MemorySize).not.toBe(DEFAULT_SERVING_MEMORY_MB);
      const method = resources[logicalIdOf(synth.stack.restApi.methods[id])]!;
      expect(method.Properties).toMatchObject({ HttpMethod: ROUTES[id].method, AuthorizationType: 'AWS_IAM' });
      expect(JSON.stringify(method.Properties.Integration)).toContain(logicalIdOf(fn.function));
      const actions = actionsOf(template, logicalIdOf(fn.role)).map((a) => a.action);
      expect(actions).toEqual(expect.arrayContaining(['rds-data:ExecuteStatement']));
      expect({
        id,
        beyond: actions.filter((a) =>
          /^s3:(Get|Put|Delete|List)Object|^s3:ListBucket|^kms:(Sign|Decrypt|GenerateDataKey)|^states:|^sqs:/.test(a),
        ),
      }).toEqual({ id, beyond: [] });
      // only the serving function's log group feeds the ingest
      expect(
        (Object.values(template.findResources('AWS::Logs::SubscriptionFilter')) as Json[]).filter((f) =>
          JSON.stringify(f.Properties.LogGroupName).includes(logicalIdOf(fn.logGroup)),
        ),
      ).toEqual([]);
    }
  });

  it("subscribes the ingest function to the serving function's log group with the serving event filter", () => {
    template.hasResourceProperties('AWS::Logs::SubscriptionFilter', {
      LogGroupName: { Ref: logicalIdOf(serving().logGroup) },
      FilterPattern: SERVING_EVENT_FILTER_PATTERN,
      DestinationArn: { 'Fn::GetAtt': [logicalIdOf(ingest().function), 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [logicalIdOf(ingest().function), 'Arn'] },
      Principal: 'logs.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [logicalIdOf(serving().logGroup), 'Arn'] },
    });
  });

  it('gives the ingest function the database and nothing of the buckets or keys beyond the startup checks', () => {
    const actions = actionsOf(template, logicalIdOf(ingest().role)).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['rds-data:ExecuteStatement']));
    expect(actions.filter((a) => /^s3:(Get|Put|Delete)Object|^kms:(Sign|Decrypt|GenerateDataKey)|^states:/.test(a))).toEqual([]);
    expect(resources[logicalIdOf(ingest().function)]!.Properties.Handler).toBe('index.handler');
  });

  it('records deliveries that fail after two retries in an encrypted, TLS-only dead-letter queue that alarms', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalIdOf(ingest().function) },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [logicalIdOf(synth.stack.servingIngest.deadLetterQueue), 'Arn'] } } },
    });
    const queue = resources[logicalIdOf(synth.stack.servingIngest.deadLetterQueue)]!;
    expect(queue.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    const alarm = resources[logicalIdOf(synth.stack.servingIngest.failureAlarm)]!;
    expect(alarm.Properties).toMatchObject({ MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1 });
    expect(alarm.Properties.AlarmActions).toEqual([{ Ref: logicalIdOf(synth.stack.monitoring.topic) }]);
  });

  it('alarms on serving errors and on ingest errors', () => {
    const alarms = Object.values(allAlarms(synth)) as Json[];
    const on = (fn: { function: unknown }) =>
      alarms.filter((a) => JSON.stringify(a.Properties.Metrics ?? []).includes(logicalIdOf(fn.function as never)));
    expect(on(serving())).toHaveLength(1);
    expect(on(ingest())).toHaveLength(1);
    expect(JSON.stringify(on(ingest())[0]!.Properties.Metrics)).toContain('Errors');
  });
});
