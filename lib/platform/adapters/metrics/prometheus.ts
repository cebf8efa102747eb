import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  SERVICE_METRICS,
  type MetricsExposition,
  type MetricsSink,
  type MetricUnitName,
  type ServiceMetricName,
} from '../../ports/metrics.js';

/** Help text and histogram buckets: the Prometheus side of {@link SERVICE_METRICS}. */
const DEFINITIONS: Record<ServiceMetricName, { help: string; buckets?: number[] }> = {
  aegis_registry_registrations_total: { help: 'Artifact registrations by outcome (created, replayed)' },
  ai_infra_artifact_registration_latency_seconds: {
    help: 'Server-side time of a registration: size check, re-hash of the stored bytes, signing, commit',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  },
  ai_infra_promotion_latency_seconds: {
    help: 'From promotion request to its end (applied, rolled back or failed)',
    buckets: [0.5, 1, 2, 5, 15, 60, 300, 900, 3600, 14400, 86400],
  },
  aegis_registry_promotions_total: {
    help: 'Promotions by environment and outcome (requested, denied, pending_multisig, succeeded, rolled_back, failed)',
  },
  ai_infra_canary_rollbacks_total: { help: 'Canary rollouts rolled back (judge failure, too many inconclusive windows, or a step error)' },
  ai_infra_canary_verdicts_total: { help: 'Judged canary windows by verdict (pass, fail, inconclusive)' },
  model_inference_latency_seconds: {
    help: 'Server-side time of a served prediction request (routing, any model load, inputs, predict), by deployment, variant and artifact',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  },
  model_inference_requests_total: { help: 'Served prediction requests by outcome (ok; error: a model exception or timeout)' },
  model_inference_error_rate: {
    help: "Share of this process's served requests of the variant's artifact that failed, since the process started (0-1)",
  },
  model_prediction_quality: {
    help: 'Share of labelled single-row predictions that matched their feedback label, as last read (by the canary judge or canary status)',
  },
  ai_infra_serving_model_loads_total: {
    help: 'Models serving started loading (read, verify, parse) by environment and variant (stable, canary, shadow, warm-up)',
  },
  ai_infra_drift_run_duration_seconds: {
    help: 'Drift runs from being recorded to their end, by environment and status (succeeded, skipped, failed)',
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
  },
  ai_infra_drift_suggestions_total: {
    help: 'Retrain suggestions raised by drift reports, by deployment and the detector of their first reason',
  },
  ai_infra_canary_traffic_percent: {
    help: "Share (0-100) of a deployment's requests routed to its canary, as the rollout last set it (0 once the rollout ended)",
  },
  ai_infra_audit_archive_lag_events: {
    help: 'Committed audit events not yet in the archive when the last archive run ended',
  },
  ai_infra_audit_verifications_total: {
    help: 'Checks of the audit chain by source (database, archive, checkpoint) and outcome (ok, failed)',
  },
  ai_infra_db_statements_per_request: {
    help: 'SQL statements one API request ran, by route (BEGIN and COMMIT not counted)',
    buckets: [0, 1, 2, 4, 6, 8, 12, 16, 24, 32, 64],
  },
  ai_infra_event_deliveries_total: {
    help: 'Event deliveries to webhooks and the event bus by outcome (delivered; failed: retried later; dead: past the last attempt, replayable)',
  },
};

/**
 * The local server's metrics: every service measurement as a Prometheus series in a registry
 * of its own (one per container), served as text at `/metrics`.
 *
 * @example
 * const prometheus = new PrometheusMetricsSink();
 * serviceMetrics([prometheus]).registration('created', 0.2);
 * res.end(await prometheus.text());
 */
export class PrometheusMetricsSink implements MetricsSink, MetricsExposition {
  readonly registry = new Registry();
  readonly #counters = new Map<string, Counter<string>>();
  readonly #histograms = new Map<string, Histogram<string>>();
  readonly #gauges = new Map<string, Gauge<string>>();

  constructor() {
    for (const [name, spec] of Object.entries(SERVICE_METRICS) as [ServiceMetricName, (typeof SERVICE_METRICS)[ServiceMetricName]][]) {
      const { help, buckets } = DEFINITIONS[name];
      const common = { name, help, labelNames: [...spec.labels], registers: [this.registry] };
      if (spec.kind === 'counter') this.#counters.set(name, new Counter(common));
      else if (spec.kind === 'gauge') this.#gauges.set(name, new Gauge(common));
      else this.#histograms.set(name, new Histogram({ ...common, ...(buckets && { buckets }) }));
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  emit(name: ServiceMetricName, _unit: MetricUnitName, value: number, dimensions: Record<string, string>): void {
    const kind = SERVICE_METRICS[name].kind;
    if (kind === 'counter') this.#counters.get(name)?.inc(dimensions, value);
    else if (kind === 'gauge') this.#gauges.get(name)?.set(dimensions, value);
    else this.#histograms.get(name)?.observe(dimensions, value);
  }
}
