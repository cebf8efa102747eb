/**
 * Events out on AWS (template): the stack's bus, the dispatcher job (the only function that may
 * PutEvents, on that bus only), the kick (every function that appends audit events may invoke
 * the dispatcher and knows its name), the example rules (disabled) and their targets, the alarms.
 */
import { logicalIdOf } from '../../lib/infra/pin.js';
import { RETRAIN_STARTER_DEFINITION } from '../../lib/infra/event-rules.js';
import { allAlarms, stubProjectRoot, synthAegis, type Synthesized } from './support.js';

type Json = Record<string, any>;
const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every Allow statement of the identity policies, with the roles they are attached to. */
function statements(synth: Synthesized): { roles: string[]; s: Json }[] {
  const out: { roles: string[]; s: Json }[] = [];
  for (const p of Object.values(synth.template.findResources('AWS::IAM::Policy')) as Json[])
    for (const s of p.Properties.PolicyDocument.Statement as Json[])
      if (s.Effect === 'Allow') out.push({ roles: asList(p.Properties.Roles as Json[]).map((r) => r.Ref as string), s });
  return out;
}
const allows = (s: Json, action: string) =>
  asList(s.Action as string | string[]).some((a) => new RegExp(`^${a.replace(/[.]/g, '\\.').replace(/\*/g, '.*')}$`, 'i').test(action));

describe('events out on AWS (template)', () => {
  let stub: ReturnType<typeof stubProjectRoot>;
  let synth: Synthesized;
  let resources: Record<string, Json>;
  beforeAll(() => {
    stub = stubProjectRoot();
    synth = synthAegis({ projectRoot: stub.root });
    resources = synth.template.toJSON().Resources as Record<string, Json>;
  });
  afterAll(() => stub.cleanup());

  const busId = () => logicalIdOf(synth.stack.eventDelivery.bus);
  const dispatcher = () => synth.stack.eventDelivery.dispatcher.jobFunction;
  /** Every function of ours (handlers from lambdas/): logical id → its role's logical id. */
  const ourFunctions = (): [string, Json][] =>
    Object.entries(resources).filter(
      ([, r]) =>
        r.Type === 'AWS::Lambda::Function' &&
        String(r.Properties.Description ?? '').length > 0 &&
        r.Properties.Handler?.startsWith('index.'),
    );

  it('has one event bus of the stack, named after the environment, and outputs its name', () => {
    synth.template.resourceCountIs('AWS::Events::EventBus', 1);
    expect(resources[busId()]!.Properties.Name).toBe('aegis-test-events');
    const outputs = synth.template.toJSON().Outputs as Record<string, Json>;
    expect(Object.values(outputs).filter((o) => o.Value?.Ref === busId())).toHaveLength(1);
  });

  it('runs the dispatcher every minute, 60 s at most, two at a time, with the bus name', () => {
    const fn = resources[logicalIdOf(dispatcher().function)]!.Properties;
    expect(fn.Handler).toBe('index.scheduled');
    expect(fn.Timeout).toBe(60);
    expect(fn.ReservedConcurrentExecutions).toBe(2);
    expect(fn.Environment.Variables.AEGIS_EVENT_BUS_NAME).toEqual({ Ref: busId() });
    const rule = synth.stack.eventDelivery.dispatcher.rule;
    expect(resources[logicalIdOf(rule)]!.Properties.ScheduleExpression).toBe('rate(1 minute)');
    expect(resources[logicalIdOf(rule)]!.Properties.Targets[0].Arn).toEqual({ 'Fn::GetAtt': [logicalIdOf(dispatcher().function), 'Arn'] });
  });

  it('lets the dispatcher alone PutEvents, on the stack bus only; it signs nothing', () => {
    const puts = statements(synth).filter(({ s }) => allows(s, 'events:PutEvents'));
    expect(puts.flatMap((p) => p.roles)).toEqual([logicalIdOf(dispatcher().role)]);
    expect(puts.flatMap((p) => asList(p.s.Resource))).toEqual([{ 'Fn::GetAtt': [busId(), 'Arn'] }]);
    const signs = statements(synth).filter(({ roles, s }) => roles.includes(logicalIdOf(dispatcher().role)) && allows(s, 'kms:Sign'));
    expect(signs).toEqual([]);
  });

  it('names the bus to the migrate step (it subscribes the bus) and to no other function but the dispatcher', () => {
    const withBus = ourFunctions()
      .filter(([, r]) => r.Properties.Environment?.Variables?.AEGIS_EVENT_BUS_NAME)
      .map(([id]) => id)
      .sort();
    expect(withBus).toEqual([logicalIdOf(synth.stack.migrations.migrateFunction.function), logicalIdOf(dispatcher().function)].sort());
  });

  it('lets every function that appends audit events (kms:Sign on the audit key) wake the dispatcher, and no other', () => {
    const auditKey = logicalIdOf(synth.stack.keys.auditSigningKey);
    const signers = new Set(
      statements(synth)
        .filter(({ s }) => allows(s, 'kms:Sign') && JSON.stringify(s.Resource).includes(`"${auditKey}"`))
        .flatMap((p) => p.roles),
    );
    const invokers = new Map<string, unknown[]>();
    for (const { roles, s } of statements(synth).filter(({ s }) => allows(s, 'lambda:InvokeFunction')))
      for (const role of roles) invokers.set(role, [...(invokers.get(role) ?? []), ...asList(s.Resource)]);
    const dispatcherArn = { 'Fn::GetAtt': [logicalIdOf(dispatcher().function), 'Arn'] };
    const migrate = logicalIdOf(synth.stack.migrations.migrateFunction.function);
    let kicked = 0;
    for (const [id, r] of ourFunctions()) {
      const role = r.Properties.Role['Fn::GetAtt'][0] as string;
      const name = r.Properties.Environment?.Variables?.AEGIS_EVENT_DISPATCH_FUNCTION;
      // the migrate step runs before the dispatcher exists (it depends on the migrations): the schedule delivers the deploy's events
      if (signers.has(role) && id !== migrate) {
        expect({ id, name }).toEqual({ id, name: { Ref: logicalIdOf(dispatcher().function) } });
        expect(invokers.get(role)).toContainEqual(dispatcherArn);
        kicked++;
      } else {
        expect({ id, name }).toEqual({ id, name: undefined });
        expect(invokers.get(role) ?? []).not.toContainEqual(dispatcherArn);
      }
    }
    // the route functions that append, the rollout and drift steps, the scheduled jobs that append
    for (const fn of [synth.stack.rollouts.rolloutStep, synth.stack.drift.driftStep, synth.stack.pendingPromotionExpiry.jobFunction])
      expect(resources[logicalIdOf(fn.function)]!.Properties.Environment.Variables.AEGIS_EVENT_DISPATCH_FUNCTION).toBeDefined();
    expect(kicked).toBeGreaterThanOrEqual(10);
    // exactly the unqualified ARN: no version or alias wildcard
    expect([...invokers.values()].flat().filter((r) => JSON.stringify(r).includes(logicalIdOf(dispatcher().function)))).toEqual(
      Array.from({ length: kicked }, () => dispatcherArn),
    );
  });

  it('has the example rules on the bus, disabled: a rollback to an encrypted TLS-only topic, a drift suggestion to the retrain starter', () => {
    const { rollbackRule, rollbackTopic, retrainRule, retrainStarter } = synth.stack.eventDelivery.examples;
    const rollback = resources[logicalIdOf(rollbackRule)]!.Properties;
    expect(rollback).toMatchObject({
      State: 'DISABLED',
      EventBusName: { Ref: busId() },
      EventPattern: { source: ['aegis'], 'detail-type': ['promotion.rolled_back'] },
    });
    expect(rollback.Targets).toEqual([expect.objectContaining({ Arn: { Ref: logicalIdOf(rollbackTopic) } })]);
    expect(resources[logicalIdOf(rollbackTopic)]!.Properties.KmsMasterKeyId).toEqual({
      'Fn::GetAtt': [logicalIdOf(synth.stack.keys.dataKey), 'Arn'],
    });
    const topicPolicies = Object.values(synth.template.findResources('AWS::SNS::TopicPolicy')) as Json[];
    const ofTopic = topicPolicies.filter((p) => JSON.stringify(p.Properties.Topics).includes(logicalIdOf(rollbackTopic)));
    const topicStatements = ofTopic.flatMap((p) => p.Properties.PolicyDocument.Statement as Json[]);
    expect(topicStatements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    expect(topicStatements).toContainEqual(
      expect.objectContaining({ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sns:Publish' }),
    );

    const retrain = resources[logicalIdOf(retrainRule)]!.Properties;
    expect(retrain).toMatchObject({
      State: 'DISABLED',
      EventBusName: { Ref: busId() },
      EventPattern: { source: ['aegis'], 'detail-type': ['drift.suggestion'] },
    });
    const [target] = retrain.Targets as Json[];
    expect(target!.Arn).toEqual({ Ref: logicalIdOf(retrainStarter) });
    // the rule's role may start the retrain starter and nothing else
    const roleId = target!.RoleArn['Fn::GetAtt'][0] as string;
    const ruleGrants = statements(synth).filter(({ roles }) => roles.includes(roleId));
    expect(ruleGrants.map(({ s }) => [s.Action, s.Resource])).toEqual([['states:StartExecution', { Ref: logicalIdOf(retrainStarter) }]]);
  });

  it('makes the retrain starter a logged, traced Standard machine with one Pass state (a placeholder)', () => {
    const machine = resources[logicalIdOf(synth.stack.eventDelivery.examples.retrainStarter)]!.Properties;
    expect(JSON.parse(machine.DefinitionString)).toEqual(RETRAIN_STARTER_DEFINITION);
    expect(Object.values(RETRAIN_STARTER_DEFINITION.States).map((s) => s.Type)).toEqual(['Pass']);
    expect(machine.StateMachineType).toBe('STANDARD');
    expect(machine.TracingConfiguration).toEqual({ Enabled: true });
    expect(machine.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
  });

  it('alarms on dead letters, the dispatcher errors (its throttles are expected) and its dead-letter queue', () => {
    const alarms = Object.values(synth.template.findResources('AWS::CloudWatch::Alarm')) as Json[];
    const dead = alarms.filter((a) =>
      (a.Properties.Metrics as Json[] | undefined)?.some((m) => m.MetricStat?.Metric.MetricName === 'ai_infra_event_deliveries_total'),
    );
    expect(dead).toHaveLength(1);
    const metrics0 = dead[0]!.Properties.Metrics as Json[];
    expect(metrics0.find((m) => m.Expression)!.Expression).toBe('FILL(webhook, 0) + FILL(bus, 0)');
    // the series the dispatcher emits through EMF: namespace Aegis, dimensions service, kind and outcome
    const series = metrics0.filter((m) => m.MetricStat).map((m) => m.MetricStat);
    expect(
      series.map((s) => [s.Metric.Namespace, s.Stat, [...s.Metric.Dimensions].sort((a: Json, b: Json) => a.Name.localeCompare(b.Name))]),
    ).toEqual(
      ['webhook', 'bus'].map((kind) => [
        'Aegis',
        'Sum',
        [
          { Name: 'kind', Value: kind },
          { Name: 'outcome', Value: 'dead' },
          { Name: 'service', Value: 'aegis' },
        ],
      ]),
    );
    expect(dead[0]!.Properties).toMatchObject({ Threshold: 1, AlarmActions: [{ Ref: logicalIdOf(synth.stack.monitoring.topic) }] });
    const errors = synth.stack.monitoring.alarms.get('eventDispatchJob-errors-throttles');
    expect(errors).toBeDefined();
    const metrics = allAlarms(synth)[logicalIdOf(errors!)]!.Properties.Metrics as Json[];
    expect(metrics.find((m) => m.Expression)!.Expression).toBe('errors');
    expect(metrics.filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric.MetricName)).toEqual(['Errors']);
    expect([...synth.stack.monitoring.alarms.values()]).toContain(synth.stack.eventDelivery.dispatcher.failureAlarm);
  });
});
