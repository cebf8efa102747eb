/**
 * Service measurements. Services record through {@link record}; where they go is decided by
 * the composition root, which adds sinks: Prometheus (the local server's `/metrics`) and
 * CloudWatch EMF in Lambda. Nothing here depends on either, so a Lambda bundle carries no
 * Prometheus client and the local server no Powertools metrics.
 */
import type { MetricsSink, ServiceMetricName } from './ports/metrics.js';

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
