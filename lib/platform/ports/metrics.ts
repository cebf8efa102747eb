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
