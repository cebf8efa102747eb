/**
 * Service measurements. Services record through a {@link ServiceMetrics} the composition
 * builds over its sinks: Prometheus (the local server's `/metrics`) and CloudWatch EMF in
 * Lambda. Nothing here depends on either, so a Lambda bundle carries no Prometheus client and
 * the local server no Powertools metrics.
 */
import type { MetricsSink, MetricUnitName, ServiceMetricName, ServiceMetrics } from './ports/metrics.js';

/** Emits to each of `sinks`; a failing sink never fails the request it measures. */
const fanOut =
  (sinks: readonly MetricsSink[]) => (name: ServiceMetricName, unit: MetricUnitName, value: number, dimensions: Record<string, string>) => {
    for (const s of sinks) {
      try {
        s.emit(name, unit, value, dimensions);
      } catch {
        // a metrics sink must never fail the request it measures
      }
    }
  };

/** Records every measurement to each of `sinks`. */
export function serviceMetrics(sinks: readonly MetricsSink[]): ServiceMetrics {
  const emit = fanOut(sinks);
  const metrics: ServiceMetrics = {
    registration(outcome, seconds) {
      emit('aegis_registry_registrations_total', 'Count', 1, { outcome });
      emit('ai_infra_artifact_registration_latency_seconds', 'Seconds', seconds, {});
    },
    promotion(env, outcome) {
      emit('aegis_registry_promotions_total', 'Count', 1, { env, outcome });
    },
    promotionEnded(env, outcome, seconds) {
      metrics.promotion(env, outcome);
      emit('ai_infra_promotion_latency_seconds', 'Seconds', seconds, { env, outcome });
      if (outcome === 'rolled_back') emit('ai_infra_canary_rollbacks_total', 'Count', 1, { env });
    },
    canaryVerdict(env, verdict) {
      emit('ai_infra_canary_verdicts_total', 'Count', 1, { env, verdict });
    },
    inference(labels, outcome, seconds) {
      emit('model_inference_requests_total', 'Count', 1, { ...labels, outcome });
      emit('model_inference_latency_seconds', 'Seconds', seconds, { ...labels });
    },
    inferenceRates(labels, rates) {
      if (rates.errorRate !== undefined) emit('model_inference_error_rate', 'None', rates.errorRate, { ...labels });
      if (rates.quality !== undefined) emit('model_prediction_quality', 'None', rates.quality, { ...labels });
    },
    modelLoad(env, variant) {
      emit('ai_infra_serving_model_loads_total', 'Count', 1, { env, variant });
    },
    driftRun(env, status, seconds) {
      emit('ai_infra_drift_run_duration_seconds', 'Seconds', seconds, { env, status });
    },
    driftSuggestion(model, env, detector) {
      emit('ai_infra_drift_suggestions_total', 'Count', 1, { model, env, detector });
    },
    canaryTraffic(model, env, percent) {
      emit('ai_infra_canary_traffic_percent', 'None', percent, { model, env });
    },
    auditArchiveLag(events) {
      emit('ai_infra_audit_archive_lag_events', 'None', events, {});
    },
    auditVerification(source, outcome) {
      emit('ai_infra_audit_verifications_total', 'Count', 1, { source, outcome });
    },
    eventDeliveries(kind, outcome, n) {
      if (n > 0) emit('ai_infra_event_deliveries_total', 'Count', n, { kind, outcome });
    },
    requestStatements(route, n) {
      emit('ai_infra_db_statements_per_request', 'Count', n, { route });
    },
  };
  return metrics;
}
