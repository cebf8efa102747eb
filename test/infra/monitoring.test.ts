/**
 * What an operator watches: the alarm topic, an alarm with an action on every signal the
 * issue names, and the dashboard, read from the synthesized template.
 */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { API_FUNCTION_NAMES } from '../../lib/infra/api-functions.js';
import { allAlarms, stubProjectRoot, synthAegis } from './support.js';
import { logicalIdOf } from '../../lib/infra/pin.js';

type Json = Record<string, any>;

describe('monitoring', () => {
  let template: Template;
  let stack: ReturnType<typeof synthAegis>['stack'];
  let synthesized: ReturnType<typeof synthAegis>;
  let cleanup: () => void;
  beforeAll(() => {
    const stub = stubProjectRoot();
    cleanup = stub.cleanup;
    const synth = synthAegis({ projectRoot: stub.root, props: { alarmEmail: 'oncall@example.com' } });
    template = synth.template;
    stack = synth.stack;
    synthesized = synth;
  });
  afterAll(() => cleanup());

  const topicRef = () => stack.resolve(stack.monitoring.topic.topicArn) as Json;
  const alarms = () => Object.values(allAlarms(synthesized)) as Json[];
  const alarmsOn = (namespace: string, metricName: string) =>
    alarms().filter(
      (a) =>
        (a.Properties.Namespace === namespace && a.Properties.MetricName === metricName) ||
        (a.Properties.Metrics ?? []).some(
          (m: Json) => m.MetricStat?.Metric?.Namespace === namespace && m.MetricStat.Metric.MetricName === metricName,
        ),
    );

  it('has one encrypted, TLS-only alarm topic, its ARN as an output, and the configured email subscribed', () => {
    // beside it only the example rollback rule's topic (test/infra/event-delivery.test.ts)
    template.resourceCountIs('AWS::SNS::Topic', 2);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com', TopicArn: topicRef() });
    template.hasOutput('AlarmTopicArn', { Value: topicRef() });
  });

  it('lets CloudWatch use the data key to publish to the encrypted topic', () => {
    const keys = Object.values(template.findResources('AWS::KMS::Key')) as Json[];
    const statements = keys.flatMap((k) => k.Properties.KeyPolicy.Statement as Json[]);
    expect(statements).toContainEqual(
      expect.objectContaining({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] }),
    );
  });

  it('notifies the topic from every alarm of the stack', () => {
    expect(alarms().length).toBeGreaterThan(API_FUNCTION_NAMES.length);
    for (const a of alarms())
      expect([a.Properties.AlarmDescription, a.Properties.AlarmActions]).toEqual([a.Properties.AlarmDescription, [topicRef()]]);
  });

  it('alarms on errors and throttles of every function (one metric-math alarm each)', () => {
    const functions = Object.keys(template.findResources('AWS::Lambda::Function'));
    const watched = (metric: string) =>
      new Set(
        alarmsOn('AWS/Lambda', metric).flatMap((a) =>
          (a.Properties.Metrics as Json[])
            .filter((m) => m.MetricStat?.Metric?.MetricName === metric)
            .map((m) => (m.MetricStat.Metric.Dimensions as Json[]).find((d) => d.Name === 'FunctionName')!.Value.Ref),
        ),
      );
    const errors = watched('Errors');
    const throttles = watched('Throttles');
    // every function of Aegis's own (CDK's helper functions — custom-resource providers, log retention — aside)
    const ours = functions.filter((id) => !/Provider|LogRetention|AWS679f53fac002430cb0da5b7982bd2287|CustomResource/.test(id));
    expect(ours.length).toBeGreaterThanOrEqual(API_FUNCTION_NAMES.length + 6);
    // the event dispatcher's throttles are by design (reserved concurrency 2 behind asynchronous kicks, which Lambda retries)
    const dispatcher = logicalIdOf(stack.eventDelivery.dispatcher.jobFunction.function);
    for (const id of ours) expect([id, errors.has(id), throttles.has(id)]).toEqual([id, true, id !== dispatcher]);
    const one = alarmsOn('AWS/Lambda', 'Errors')[0]!.Properties;
    expect(one.Metrics.find((m: Json) => m.Expression)).toMatchObject({ Expression: 'errors + throttles', ReturnData: true });
    expect(one).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
  });

  it('alarms on the API 5xx count and p99 latency', () => {
    expect(alarmsOn('AWS/ApiGateway', '5XXError')).toHaveLength(1);
    const latency = alarmsOn('AWS/ApiGateway', 'Latency');
    expect(latency).toHaveLength(1);
    expect(latency[0]!.Properties).toMatchObject({ ExtendedStatistic: 'p99', Threshold: 3000, EvaluationPeriods: 3 });
  });

  it('alarms on failed and timed-out executions of both rollout state machines, the drift machine and the register machine', () => {
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut']) {
      const machines = alarmsOn('AWS/States', metric).map((a) => JSON.stringify(a.Properties.Dimensions ?? a.Properties.Metrics));
      expect(machines).toHaveLength(4);
      for (const id of ['RollbackStateMachine', 'PromotionStateMachine', 'DriftStateMachine', 'RegisterStateMachine'])
        expect(machines.filter((m) => m.includes(id))).toHaveLength(1);
    }
    expect(
      alarmsOn('AWS/States', 'ExecutionsFailed').find((a) => String(JSON.stringify(a.Properties.Dimensions)).includes('Rollback'))!
        .Properties.AlarmDescription,
    ).toMatch(/canary route may still send traffic/);
  });

  it('alarms on the dead-letter queues (seven scheduled jobs with the event dispatcher, serving ingest), canary rollbacks (EMF, namespace Aegis) and database capacity', () => {
    expect(alarmsOn('AWS/SQS', 'ApproximateNumberOfMessagesVisible')).toHaveLength(8);
    const rollbacks = alarmsOn('Aegis', 'ai_infra_canary_rollbacks_total');
    expect(rollbacks).toHaveLength(1);
    expect(rollbacks[0]!.Properties.Metrics.filter((m: Json) => m.MetricStat).map((m: Json) => m.MetricStat.Metric.Dimensions)).toEqual(
      ['staging', 'canary', 'prod'].map((env) => [
        { Name: 'env', Value: env },
        { Name: 'service', Value: 'aegis' },
      ]),
    );
    expect(alarmsOn('AWS/RDS', 'ServerlessDatabaseCapacity')[0]!.Properties).toMatchObject({ Threshold: 3.6 });
  });

  it('alarms on the audit archive staying a segment behind, and on any failed chain check (EMF, namespace Aegis)', () => {
    const topic = JSON.parse(JSON.stringify(topicRef()));
    const [lag, ...more] = alarmsOn('Aegis', 'ai_infra_audit_archive_lag_events');
    expect(more).toHaveLength(0);
    expect(JSON.parse(JSON.stringify(lag!.Properties))).toMatchObject({
      Dimensions: [{ Name: 'service', Value: 'aegis' }],
      Statistic: 'Maximum',
      Period: 900,
      Threshold: 1000,
      EvaluationPeriods: 2,
      AlarmActions: [topic],
    });
    const [failed, ...others] = alarmsOn('Aegis', 'ai_infra_audit_verifications_total');
    expect(others).toHaveLength(0);
    const stats = (failed!.Properties.Metrics as Json[]).filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric.Dimensions);
    expect(stats).toEqual(
      ['database', 'archive', 'checkpoint'].map((source) => [
        { Name: 'outcome', Value: 'failed' },
        { Name: 'service', Value: 'aegis' },
        { Name: 'source', Value: source },
      ]),
    );
    expect(JSON.parse(JSON.stringify(failed!.Properties))).toMatchObject({ Threshold: 1, AlarmActions: [topic] });
    const body = JSON.stringify(
      stack.resolve((Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0] as Json).Properties.DashboardBody),
    );
    for (const title of ['Audit archive lag (events, max)', 'Audit chain checks', 'Audit alarms']) expect(body).toContain(title);
  });

  it('builds one dashboard with the API, registry, rollout, function and database signals', () => {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as Json[];
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(stack.resolve(dashboards[0]!.Properties.DashboardBody));
    for (const title of [
      'API requests and errors',
      'API latency (ms)',
      'Registrations and promotions',
      'Rollout executions',
      'Database capacity (ACU)',
      'Alarms',
    ])
      expect(body).toContain(title);
    expect(body).toContain('{Aegis} MetricName=\\\\\\"aegis_registry_registrations_total');
    template.hasOutput('DashboardName', {});
  });
});
