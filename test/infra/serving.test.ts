import type { Template } from 'aws-cdk-lib/assertions';
import { DEFAULT_SERVING_MEMORY_MB, ROUTE_ACCESS } from '../../lib/infra/api-functions.js';
import { logicalIdOf } from '../../lib/infra/pin.js';
import { DEFAULT_SERVING_THROTTLE } from '../../lib/infra/rest-api.js';
import { SERVING_EVENT_FILTER_PATTERN } from '../../lib/modules/serving/event-log.js';
import { ROUTES } from '../../lib/platform/http/routes.js';
import { stubProjectRoot, synthAegis, type Synthesized } from './support.js';

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

  it('lets serving read artifacts and write no object anywhere: no put, no delete, no archive, no rollouts, no manifest key', () => {
    expect(ROUTE_ACCESS.servingPredict).toEqual({ artifacts: 'read', signAuditEvents: true });
    const actions = actionsOf(template, logicalIdOf(serving().role));
    const names = actions.map((a) => a.action);
    expect(names).toEqual(expect.arrayContaining(['s3:GetObject', 's3:GetObjectVersion']));
    expect(names.filter((a) => /^s3:(Put|Delete|Abort)|^states:|kms:GenerateDataKey|^logs:(Put|Create)SubscriptionFilter/.test(a))).toEqual(
      [],
    );
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

  it('deploys feedback and status as functions of their own behind IAM auth, with the database and nothing of the buckets or keys beyond the startup checks', () => {
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
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Json[];
    const on = (fn: { function: unknown }) =>
      alarms.filter((a) => JSON.stringify(a.Properties.Metrics ?? []).includes(logicalIdOf(fn.function as never)));
    expect(on(serving())).toHaveLength(1);
    expect(on(ingest())).toHaveLength(1);
    expect(JSON.stringify(on(ingest())[0]!.Properties.Metrics)).toContain('Errors');
  });
});
