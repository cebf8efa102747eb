/**
 * Serving watched on AWS (issue 18): the alarms on the canary error rate, p99 latency per
 * variant, ingest lag and fail verdicts, on the stack's topic, with their thresholds from the
 * `serving` config; and the dashboard rows. Read from the synthesized template.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sns from 'aws-cdk-lib/aws-sns';
import { ServingMonitoring, type ServingAlarmConfig } from '../../lib/infra/serving-monitoring.js';
import { allAlarms, stubProjectRoot, synthAegis } from './support.js';

type Json = Record<string, any>;

const ENVS = ['staging', 'canary', 'prod'];

/** The MetricStat entries of a metric-math alarm (or the alarm's own metric as one). */
const statsOf = (alarm: Json): Json[] =>
  alarm.Properties.Metrics
    ? (alarm.Properties.Metrics as Json[]).filter((m) => m.MetricStat).map((m) => ({ ...m.MetricStat.Metric, Stat: m.MetricStat.Stat }))
    : [
        {
          Namespace: alarm.Properties.Namespace,
          MetricName: alarm.Properties.MetricName,
          Dimensions: alarm.Properties.Dimensions,
          Stat: alarm.Properties.Statistic ?? alarm.Properties.ExtendedStatistic,
        },
      ];
const expressionOf = (alarm: Json): string | undefined =>
  (alarm.Properties.Metrics as Json[] | undefined)?.find((m) => m.Expression)?.Expression;
/** The template's objects as plain JSON (toMatchObject compares prototypes). */
const plain = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const dims = (m: Json) => Object.fromEntries((m.Dimensions as Json[]).map((d) => [d.Name, d.Value]));

describe('serving monitoring in the stack', () => {
  let template: Template;
  let stack: ReturnType<typeof synthAegis>['stack'];
  let synthesized: ReturnType<typeof synthAegis>;
  let cleanup: () => void;
  beforeAll(() => {
    const stub = stubProjectRoot();
    cleanup = stub.cleanup;
    const synth = synthAegis({
      projectRoot: stub.root,
      props: { serving: { memoryMb: 2048, alarmLatencyP99Ms: 250, alarmCanaryErrorRate: 0.02 } },
    });
    template = synth.template;
    stack = synth.stack;
    synthesized = synth;
  });
  afterAll(() => cleanup());

  const topicRef = () => plain(stack.resolve(stack.monitoring.topic.topicArn) as Json);
  const alarms = () => plain(Object.values(allAlarms(synthesized)) as Json[]);
  const alarmsOn = (namespace: string, metricName: string) =>
    alarms().filter((a) => statsOf(a).some((m) => m.Namespace === namespace && m.MetricName === metricName));

  it.each(['canary', 'stable'])(
    'alarms on the %s error rate: errors over requests of the variant in every target environment, above the configured rate for 2 periods',
    (variant) => {
      const errorAlarms = alarmsOn('Aegis/Serving', 'Errors');
      expect(errorAlarms).toHaveLength(2);
      const alarm = errorAlarms.find((a) => statsOf(a).every((m) => dims(m).Variant === variant));
      const stats = statsOf(alarm!);
      expect(stats.map((m) => [m.MetricName, dims(m), m.Stat])).toEqual(
        expect.arrayContaining(
          ENVS.flatMap((env) => [
            ['Requests', { Environment: env, Variant: variant }, 'Sum'],
            ['Errors', { Environment: env, Variant: variant }, 'Sum'],
          ]),
        ),
      );
      expect(stats).toHaveLength(6);
      expect(stats.every((m) => m.Namespace === 'Aegis/Serving')).toBe(true);
      expect(expressionOf(alarm!)).toBe(
        'IF((FILL(r0, 0) + FILL(r1, 0) + FILL(r2, 0)) >= 20, (FILL(e0, 0) + FILL(e1, 0) + FILL(e2, 0)) / (FILL(r0, 0) + FILL(r1, 0) + FILL(r2, 0)), 0)',
      );
      expect(alarm!.Properties).toMatchObject({
        Threshold: 0.02,
        EvaluationPeriods: 2,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [topicRef()],
      });
      expect(alarm!.Properties.AlarmDescription).toMatch(variant === 'stable' ? /roll back by hand/ : /canary judge should roll it back/);
    },
  );

  it('alarms on each variant’s p99 latency (the worst environment) at the configured threshold for 15 minutes', () => {
    const latency = alarmsOn('Aegis/Serving', 'LatencyMs');
    expect(latency).toHaveLength(2);
    for (const variant of ['stable', 'canary']) {
      const alarm = latency.find((a) => statsOf(a).every((m) => dims(m).Variant === variant))!;
      expect(statsOf(alarm).map((m) => [dims(m).Environment, m.Stat])).toEqual(ENVS.map((env) => [env, 'p99']));
      expect(expressionOf(alarm)).toBe('MAX([p0, p1, p2])');
      expect(alarm.Properties).toMatchObject({ Threshold: 250, EvaluationPeriods: 3, AlarmActions: [topicRef()] });
      expect(alarm.Properties.AlarmDescription).toContain(`The ${variant} variant's p99`);
    }
  });

  it('alarms on the ingest lag (the delivery’s oldest event, max) above 10 minutes, and leaves the ingest’s errors to the per-function alarm', () => {
    const [lag, ...more] = alarmsOn('Aegis/Serving', 'IngestLagSeconds');
    expect(more).toHaveLength(0);
    expect(lag!.Properties).toMatchObject({
      Namespace: 'Aegis/Serving',
      Dimensions: [{ Name: 'Service', Value: 'serving-ingest' }],
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 600,
      EvaluationPeriods: 2,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [topicRef()],
    });
    // one errors + throttles alarm on the ingest function: the one every function has
    const ingestId = stack.resolve(stack.servingIngest.ingestFunction.function.functionName) as Json;
    const onIngest = alarms().filter((a) =>
      statsOf(a).some((m) => m.Namespace === 'AWS/Lambda' && JSON.stringify(m.Dimensions).includes(JSON.stringify(ingestId))),
    );
    expect(onIngest.map((a) => expressionOf(a))).toEqual(['errors + throttles']);
  });

  it('notifies when a canary window is judged fail, in any target environment', () => {
    const [alarm, ...more] = alarmsOn('Aegis', 'ai_infra_canary_verdicts_total');
    expect(more).toHaveLength(0);
    expect(statsOf(alarm!).map(dims)).toEqual(ENVS.map((env) => ({ env, service: 'aegis', verdict: 'fail' })));
    expect(expressionOf(alarm!)).toBe('FILL(f0, 0) + FILL(f1, 0) + FILL(f2, 0)');
    expect(alarm!.Properties).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [topicRef()],
    });
  });

  it('adds the serving rows to the stack’s one dashboard: requests, errors, latency p50/p99 per variant, ingest lag, verdicts, alarm states', () => {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as Json[];
    expect(dashboards).toHaveLength(1);
    const body = JSON.parse(
      (stack.resolve(dashboards[0]!.Properties.DashboardBody) as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1]
        .map((p) => (typeof p === 'string' ? p : 'ref'))
        .join(''),
    ) as { widgets: Json[] };
    const widget = (title: string) => body.widgets.find((w) => w.properties.title === title)!;
    const series = (title: string) => (widget(title).properties.metrics as unknown[][]).map((m) => m.filter((x) => typeof x === 'string'));

    const requests = series('Serving requests per variant (per minute)');
    expect(requests).toHaveLength(6);
    expect(requests).toContainEqual(['Aegis/Serving', 'Requests', 'Environment', 'prod', 'Variant', 'canary']);
    expect(series('Serving errors per variant (per minute)')).toContainEqual([
      'Aegis/Serving',
      'Errors',
      'Environment',
      'staging',
      'Variant',
      'stable',
    ]);
    const latency = widget('Serving latency per variant (ms, warm requests)').properties;
    const stats = (latency.metrics as unknown[][]).map((m) => (m.at(-1) as Json).stat);
    expect(stats.filter((s) => s === 'p50')).toHaveLength(6);
    expect(stats.filter((s) => s === 'p99')).toHaveLength(6);
    expect(latency.annotations.horizontal).toEqual([expect.objectContaining({ value: 250 })]);
    expect(series('Serving ingest: lag (s, max) and events')).toEqual(
      expect.arrayContaining([
        expect.arrayContaining(['IngestLagSeconds']),
        expect.arrayContaining(['IngestedEvents']),
        expect.arrayContaining(['DuplicateEvents']),
      ]),
    );
    const verdicts = widget('Canary verdicts (judged windows)').properties.metrics as unknown[][];
    expect(verdicts.map((m) => (m[0] as Json).label).filter(Boolean)).toEqual(['pass', 'fail', 'inconclusive']);
    const serving = stack.node.findChild('ServingMonitoring') as ServingMonitoring;
    expect(serving.alarms.size).toBe(6);
    expect(widget('Serving alarms').properties.alarms).toHaveLength(serving.alarms.size);
    // every deployment's canary share, by the rollout steps' gauge (EMF, namespace Aegis)
    const traffic = widget('Canary traffic (% of requests, by deployment)').properties.metrics as Json[][];
    expect(traffic[0]![0]!.expression).toBe(
      `SEARCH('{Aegis,env,model,service} MetricName="ai_infra_canary_traffic_percent"', 'Maximum', 60)`,
    );
  });
});

describe('ServingMonitoring on its own', () => {
  const build = (thresholds: ServingAlarmConfig = {}) => {
    const stack = new Stack(new App(), 'serving-monitoring');
    const topic = new sns.Topic(stack, 'Topic');
    const dashboard = new cloudwatch.Dashboard(stack, 'Dashboard');
    new ServingMonitoring(stack, 'ServingMonitoring', { monitoring: { topic, dashboard }, thresholds });
    return Template.fromStack(stack);
  };

  it('uses the defaults without a serving config: p99 500 ms, canary error rate 5 %', () => {
    const alarms = Object.values(build().findResources('AWS::CloudWatch::Alarm')) as Json[];
    expect(alarms).toHaveLength(6);
    const threshold = (metric: string) =>
      alarms.filter((a) => statsOf(a).some((m) => m.MetricName === metric)).map((a) => a.Properties.Threshold as number);
    expect(threshold('LatencyMs')).toEqual([500, 500]);
    expect(threshold('Errors')).toEqual([0.05, 0.05]);
  });

  it('takes the ingest lag in minutes', () => {
    const alarms = Object.values(build({ alarmIngestLagMinutes: 3 }).findResources('AWS::CloudWatch::Alarm')) as Json[];
    expect(alarms.find((a) => a.Properties.MetricName === 'IngestLagSeconds')!.Properties.Threshold).toBe(180);
  });

  it.each([
    [{ alarmCanaryErrorRate: 1.5 }, /alarmCanaryErrorRate must be between 0 and 1/],
    [{ alarmLatencyP99Ms: 0 }, /alarmLatencyP99Ms must be more than 0 ms/],
    [{ alarmIngestLagMinutes: 0 }, /alarmIngestLagMinutes must be at least 1/],
  ])('refuses %o, naming the prop', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
