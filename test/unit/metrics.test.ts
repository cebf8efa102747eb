import { EmfMetricsSink } from '../../lib/platform/adapters/metrics/emf.js';
import { PrometheusMetricsSink } from '../../lib/platform/adapters/metrics/prometheus.js';
import { serviceMetrics } from '../../lib/platform/metrics.js';
import { LogLineEventRecorder } from '../../lib/modules/serving/event-log.js';
import { ServingEventSink, type ServingEventRecorder } from '../../lib/modules/serving/event-sink.js';
import { ServingMetrics } from '../../lib/modules/serving/metrics.js';
import type { ServedRequest } from '../../lib/modules/serving/observers.js';

/** Captures what Powertools prints: EMF lines are JSON on stdout. */
function captureStdout(fn: () => void): string[] {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const log = console.log;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  console.log = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
  try {
    fn();
  } finally {
    process.stdout.write = write;
    console.log = log;
  }
  return lines.flatMap((l) => l.split('\n')).filter((l) => l.trim().startsWith('{'));
}

describe('service metrics', () => {
  it('records to every added sink: Prometheus series locally and the same measurements as CloudWatch EMF in Lambda', async () => {
    const prometheusSink = new PrometheusMetricsSink();
    const record = serviceMetrics([prometheusSink, new EmfMetricsSink({ namespace: 'AegisTest' })]);
    const lines = captureStdout(() => {
      record.promotionEnded('prod', 'rolled_back', 42.5);
      record.registration('created', 0.25);
      record.canaryVerdict('prod', 'fail');
    });
    const emf = lines.map(
      (l) =>
        JSON.parse(l) as {
          _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
        } & Record<string, unknown>,
    );
    const byName = (n: string) => emf.find((e) => e._aws.CloudWatchMetrics[0]!.Metrics.some((m) => m.Name === n));
    const rollback = byName('ai_infra_canary_rollbacks_total')!;
    expect(rollback._aws.CloudWatchMetrics[0]!.Namespace).toBe('AegisTest');
    expect(rollback._aws.CloudWatchMetrics[0]!.Dimensions[0]).toEqual(expect.arrayContaining(['env']));
    expect(rollback).toMatchObject({ env: 'prod', ai_infra_canary_rollbacks_total: 1 });
    expect(byName('ai_infra_promotion_latency_seconds')).toMatchObject({
      env: 'prod',
      outcome: 'rolled_back',
      ai_infra_promotion_latency_seconds: 42.5,
    });
    expect(byName('aegis_registry_registrations_total')).toMatchObject({ outcome: 'created', aegis_registry_registrations_total: 1 });

    // the rollout step's verdict: the series the fail-verdict alarm sums (service, env, verdict)
    const verdict = byName('ai_infra_canary_verdicts_total')!;
    expect(verdict._aws.CloudWatchMetrics[0]!.Dimensions[0]).toEqual(expect.arrayContaining(['service', 'env', 'verdict']));
    expect(verdict._aws.CloudWatchMetrics[0]!.Metrics).toEqual([{ Name: 'ai_infra_canary_verdicts_total', Unit: 'Count' }]);
    expect(verdict).toMatchObject({ service: 'aegis', env: 'prod', verdict: 'fail', ai_infra_canary_verdicts_total: 1 });

    const text = await prometheusSink.registry.metrics();
    expect(text).toMatch(/ai_infra_canary_verdicts_total\{env="prod",verdict="fail"\} 1/);
    expect(text).toMatch(/ai_infra_canary_rollbacks_total\{env="prod"\} 1/);
    expect(text).toMatch(/aegis_registry_promotions_total\{env="prod",outcome="rolled_back"\} 1/);
    expect(text).toMatch(/ai_infra_artifact_registration_latency_seconds_bucket\{le="0.25"\} 1/);
    expect(text).toMatch(/ai_infra_promotion_latency_seconds_sum\{env="prod",outcome="rolled_back"\} 42.5/);
  });
});

describe('the gauges and counters the alerts read', () => {
  it('writes the canary share, the archive lag and chain checks as Prometheus series and as EMF with their dimensions', async () => {
    const prometheusSink = new PrometheusMetricsSink();
    const record = serviceMetrics([prometheusSink, new EmfMetricsSink({ namespace: 'AegisTest' })]);
    const lines = captureStdout(() => {
      record.canaryTraffic('ranker', 'prod', 40);
      record.auditArchiveLag(12);
      record.auditVerification('checkpoint', 'failed');
    }).map((l) => JSON.parse(l) as { _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] } } & Record<string, unknown>);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ model: 'ranker', env: 'prod', ai_infra_canary_traffic_percent: 40 });
    expect(lines[1]).toMatchObject({ service: 'aegis', ai_infra_audit_archive_lag_events: 12 });
    expect(lines[1]!._aws.CloudWatchMetrics[0]!.Dimensions[0]).toEqual(['service']);
    expect(lines[2]!._aws.CloudWatchMetrics[0]!.Dimensions[0]!.sort()).toEqual(['outcome', 'service', 'source']);
    const text = await prometheusSink.registry.metrics();
    expect(text).toMatch(/^ai_infra_canary_traffic_percent\{model="ranker",env="prod"\} 40$/m);
    expect(text).toMatch(/^ai_infra_audit_archive_lag_events 12$/m);
    expect(text).toMatch(/^ai_infra_audit_verifications_total\{source="checkpoint",outcome="failed"\} 1$/m);
  });
});

describe('metrics per container', () => {
  it('gives every local container a Prometheus registry of its own, so two servers in one process never share a series', async () => {
    const { localAdapters } = await import('../../lib/platform/composition/local.js');
    const first = localAdapters.metrics();
    const second = localAdapters.metrics();
    serviceMetrics(first.sinks).registration('created', 0.1);
    expect(await first.exposition!.text()).toMatch(/aegis_registry_registrations_total\{outcome="created"\} 1/);
    expect(await second.exposition!.text()).not.toMatch(/aegis_registry_registrations_total\{outcome="created"\}/);
  });
});

describe('serving metrics where the event lines carry them (Lambda)', () => {
  const request = (variant: 'stable' | 'canary', predictions: [] | null): ServedRequest => ({
    modelName: 'churn',
    env: 'prod',
    requestId: `r-${variant}`,
    variant,
    artifactId: 'a'.repeat(64),
    at: new Date(),
    latencyMs: 4,
    cold: false,
    inputs: [],
    predictions,
  });

  it('the Lambda recorder says its lines carry the request metrics; the local sink does not', () => {
    expect(new LogLineEventRecorder({ database: {} as never, graceSeconds: 10 }, () => undefined).carriesMetrics).toBe(true);
    expect(
      (new ServingEventSink({} as never, { intervalMs: 250, maxRows: 500, onError: () => undefined }) as ServingEventRecorder)
        .carriesMetrics,
    ).toBeUndefined();
  });

  it('writes no per-request series then (three EMF lines a request would double the log bill), but still the quality read by the judge', async () => {
    const sink = new PrometheusMetricsSink();
    const lambda = new ServingMetrics(serviceMetrics([sink]), { perRequest: false });
    lambda.served(request('canary', null));
    lambda.read('churn/prod', 'canary', 'a'.repeat(64), { requests: 10, errors: 0, quality: { correct: 9, labelled: 10 } });
    const text = await sink.text();
    expect(text).not.toMatch(/model_inference_requests_total\{/);
    expect(text).not.toMatch(/model_inference_error_rate\{/);
    expect(text).toMatch(/model_prediction_quality\{model="churn",env="prod",variant="canary",artifact_id="a{64}"\} 0\.9/);

    const local = new PrometheusMetricsSink();
    new ServingMetrics(serviceMetrics([local])).served(request('stable', []));
    expect(await local.text()).toMatch(
      /model_inference_requests_total\{model="churn",env="prod",variant="stable",artifact_id="a{64}",outcome="ok"\} 1/,
    );
  });
});
