/**
 * Serving's Prometheus series (`/metrics` of the local server): every served request's outcome
 * and latency, the error rate of each variant's artifact since the process started, and the
 * prediction quality whenever it is read from the label feedback. In Lambda only the quality is
 * written (EMF): the serving event lines carry the request metrics (`Aegis/Serving`).
 */
import type { Variant, VariantMetrics } from '../../kernel/canary-metrics.js';
import type { InferenceLabels, ServiceMetrics } from '../../platform/ports/metrics.js';
import type { ModelLoad, ServedRequest, ServingObserver } from './observers.js';

export class ServingMetrics implements ServingObserver {
  readonly #counts = new Map<string, { requests: number; errors: number }>();

  /**
   * @param opts.perRequest false when the serving events carry the request metrics already
   * (EMF event lines in Lambda): `served` then writes nothing, `read` still writes the quality
   */
  constructor(
    private readonly metrics: ServiceMetrics,
    private readonly opts: { perRequest: boolean } = { perRequest: true },
  ) {}

  served(r: ServedRequest): void {
    if (!this.opts.perRequest) return;
    const labels: InferenceLabels = { model: r.modelName, env: r.env, variant: r.variant, artifact_id: r.artifactId };
    const error = r.predictions === null;
    this.metrics.inference(labels, error ? 'error' : 'ok', r.latencyMs / 1000);
    const key = JSON.stringify(labels);
    const c = this.#counts.get(key) ?? { requests: 0, errors: 0 };
    c.requests++;
    if (error) c.errors++;
    this.#counts.set(key, c);
    this.metrics.inferenceRates(labels, { errorRate: c.errors / c.requests });
  }

  /** A model load (`ai_infra_serving_model_loads_total`, by environment and variant): written in Lambda too. */
  loaded(l: ModelLoad): void {
    this.metrics.modelLoad(l.env, l.variant);
  }

  /** Quality read for a deployment's variant (by the judge or by canary status): the gauge follows it. */
  read(deploymentKey: string, variant: Variant, artifactId: string | null, m: VariantMetrics): void {
    if (!artifactId || !m.quality || m.quality.labelled === 0) return;
    const slash = deploymentKey.lastIndexOf('/');
    const labels = { model: deploymentKey.slice(0, slash), env: deploymentKey.slice(slash + 1), variant, artifact_id: artifactId };
    this.metrics.inferenceRates(labels, { quality: m.quality.correct / m.quality.labelled });
  }
}
