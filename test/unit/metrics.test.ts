import { EmfMetricsSink } from '../../lib/platform/adapters/metrics/emf.js';
import { PrometheusMetricsSink } from '../../lib/platform/adapters/metrics/prometheus.js';
import { serviceMetrics } from '../../lib/platform/metrics.js';

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
