import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { SERVICE_METRICS, type MetricsSink, type MetricUnitName, type ServiceMetricName } from '../../ports/metrics.js';

/**
 * CloudWatch metrics from Lambda through Powertools' Embedded Metric Format: each
 * measurement is one EMF line on stdout, which CloudWatch Logs turns into a metric in the
 * `Aegis` namespace with the given dimensions (no API calls, no extra permissions).
 */
export class EmfMetricsSink implements MetricsSink {
  readonly #metrics: Metrics;

  constructor(opts: { namespace?: string; serviceName?: string } = {}) {
    this.#metrics = new Metrics({ namespace: opts.namespace ?? 'Aegis', serviceName: opts.serviceName ?? 'aegis' });
  }

  emit(name: ServiceMetricName, unit: MetricUnitName, value: number, dimensions: Record<string, string>): void {
    if ('localOnly' in SERVICE_METRICS[name]) return;
    // singleMetric publishes at once: nothing to flush at the end of an invocation
    const m = this.#metrics.singleMetric();
    for (const [k, v] of Object.entries(dimensions)) m.addDimension(k, v);
    m.addMetric(name, unit === 'Count' ? MetricUnit.Count : unit === 'Seconds' ? MetricUnit.Seconds : MetricUnit.NoUnit, value);
  }
}
