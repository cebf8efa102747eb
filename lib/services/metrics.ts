import { Counter, Histogram, Registry } from 'prom-client';

/** Service metrics, served by the local server at /metrics (Prometheus text format). */
export const serviceRegistry = new Registry();

export const registrationsTotal = new Counter({
  name: 'aegis_registry_registrations_total',
  help: 'Artifact registrations by outcome (created, replayed)',
  labelNames: ['outcome'] as const,
  registers: [serviceRegistry],
});

export const registrationLatency = new Histogram({
  name: 'ai_infra_artifact_registration_latency_seconds',
  help: 'Server-side time of a registration: size check, re-hash of the stored bytes, signing, commit',
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [serviceRegistry],
});

export const promotionLatency = new Histogram({
  name: 'ai_infra_promotion_latency_seconds',
  help: 'From promotion request to its end (applied, rolled back or failed)',
  labelNames: ['env', 'outcome'] as const,
  buckets: [0.5, 1, 2, 5, 15, 60, 300, 900, 3600, 14400, 86400],
  registers: [serviceRegistry],
});

export const promotionsTotal = new Counter({
  name: 'aegis_registry_promotions_total',
  help: 'Promotions by environment and outcome (requested, denied, pending_multisig, succeeded, rolled_back, failed)',
  labelNames: ['env', 'outcome'] as const,
  registers: [serviceRegistry],
});

export const canaryRollbacks = new Counter({
  name: 'ai_infra_canary_rollbacks_total',
  help: 'Canary rollouts rolled back (judge failure, too many inconclusive windows, or a step error)',
  labelNames: ['env'] as const,
  registers: [serviceRegistry],
});

/** A second destination for the same measurements: CloudWatch (EMF) in Lambda. */
export interface MetricsSink {
  /** `unit` is `Count` or `Seconds` */
  emit(name: string, unit: 'Count' | 'Seconds', value: number, dimensions: Record<string, string>): void;
}

const sinks = new Set<MetricsSink>();
/** Called once per process by the composition root (Lambda mode). */
export const addMetricsSink = (sink: MetricsSink): void => void sinks.add(sink);

function emit(name: string, unit: 'Count' | 'Seconds', value: number, dimensions: Record<string, string>) {
  for (const s of sinks) {
    try {
      s.emit(name, unit, value, dimensions);
    } catch {
      // a metrics sink must never fail the request it measures
    }
  }
}

/** The one way services record: Prometheus (local /metrics) and every added sink. */
export const record = {
  registration(outcome: 'created' | 'replayed', seconds: number) {
    registrationsTotal.inc({ outcome });
    registrationLatency.observe(seconds);
    emit('aegis_registry_registrations_total', 'Count', 1, { outcome });
    emit('ai_infra_artifact_registration_latency_seconds', 'Seconds', seconds, {});
  },
  promotion(env: string, outcome: string) {
    promotionsTotal.inc({ env, outcome });
    emit('aegis_registry_promotions_total', 'Count', 1, { env, outcome });
  },
  promotionEnded(env: string, outcome: string, seconds: number) {
    record.promotion(env, outcome);
    promotionLatency.observe({ env, outcome }, seconds);
    emit('ai_infra_promotion_latency_seconds', 'Seconds', seconds, { env, outcome });
    if (outcome === 'rolled_back') {
      canaryRollbacks.inc({ env });
      emit('ai_infra_canary_rollbacks_total', 'Count', 1, { env });
    }
  },
};
