/**
 * Service measurements. Services record through {@link record}; where they go is decided by
 * the composition root, which adds sinks: Prometheus (the local server's `/metrics`) and
 * CloudWatch EMF in Lambda. Nothing here depends on either, so a Lambda bundle carries no
 * Prometheus client and the local server no Powertools metrics.
 */

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

const sinks = new Set<MetricsSink>();
/** Called by the composition root; adding the same sink twice adds it once. */
export const addMetricsSink = (sink: MetricsSink): void => void sinks.add(sink);

function emit(name: ServiceMetricName, unit: 'Count' | 'Seconds', value: number, dimensions: Record<string, string>) {
  for (const s of sinks) {
    try {
      s.emit(name, unit, value, dimensions);
    } catch {
      // a metrics sink must never fail the request it measures
    }
  }
}

/** The one way services record: to every added sink. */
export const record = {
  registration(outcome: 'created' | 'replayed', seconds: number) {
    emit('aegis_registry_registrations_total', 'Count', 1, { outcome });
    emit('ai_infra_artifact_registration_latency_seconds', 'Seconds', seconds, {});
  },
  promotion(env: string, outcome: string) {
    emit('aegis_registry_promotions_total', 'Count', 1, { env, outcome });
  },
  promotionEnded(env: string, outcome: string, seconds: number) {
    record.promotion(env, outcome);
    emit('ai_infra_promotion_latency_seconds', 'Seconds', seconds, { env, outcome });
    if (outcome === 'rolled_back') {
      emit('ai_infra_canary_rollbacks_total', 'Count', 1, { env });
    }
  },
};
