/** The metrics port: the series the services record and where they go. Adapters: `adapters/metrics/{prometheus,emf}.ts`. */

/** Every series the services record, with its kind and labels (sinks define help and buckets). */
export const SERVICE_METRICS = {
  aegis_registry_registrations_total: { kind: 'counter', labels: ['outcome'] },
  ai_infra_artifact_registration_latency_seconds: { kind: 'histogram', labels: [] },
  ai_infra_promotion_latency_seconds: { kind: 'histogram', labels: ['env', 'outcome'] },
  aegis_registry_promotions_total: { kind: 'counter', labels: ['env', 'outcome'] },
  ai_infra_canary_rollbacks_total: { kind: 'counter', labels: ['env'] },
} as const satisfies Record<string, { kind: 'counter' | 'histogram'; labels: readonly string[] }>;

export type ServiceMetricName = keyof typeof SERVICE_METRICS;

/** A destination for the measurements: Prometheus locally, CloudWatch (EMF) in Lambda. */
export interface MetricsSink {
  /** `unit` is `Count` (counters) or `Seconds` (histograms) */
  emit(name: ServiceMetricName, unit: 'Count' | 'Seconds', value: number, dimensions: Record<string, string>): void;
}

/**
 * What the services record through, one method per measurement. The composition builds one
 * per container over that container's sinks (`serviceMetrics` in `lib/platform/metrics.ts`),
 * so two containers in one process (two local servers in a test) never share a series.
 *
 * @example
 * const metrics = serviceMetrics([new PrometheusMetricsSink()]);
 * metrics.promotion('prod', 'requested');
 */
export interface ServiceMetrics {
  registration(outcome: 'created' | 'replayed', seconds: number): void;
  promotion(env: string, outcome: string): void;
  /** the promotion's outcome once it ends, its latency from request to end, and a canary rollback as such */
  promotionEnded(env: string, outcome: string, seconds: number): void;
}

/** Measurements a process serves itself to a scraper: the local server's Prometheus text at `/metrics`. */
export interface MetricsExposition {
  readonly contentType: string;
  text(): Promise<string>;
}
