import { Counter, Histogram, Registry } from 'prom-client';

/** Promotion metrics (Prometheus locally at /metrics; CloudWatch EMF on AWS). */
export const promotionRegistry = new Registry();

export const promotionLatency = new Histogram({
  name: 'ai_infra_promotion_latency_seconds',
  help: 'From promotion request to its end (applied, rolled back or failed)',
  labelNames: ['env', 'outcome'] as const,
  buckets: [0.5, 1, 2, 5, 15, 60, 300, 900, 3600, 14400, 86400],
  registers: [promotionRegistry],
});

export const promotionsTotal = new Counter({
  name: 'aegis_registry_promotions_total',
  help: 'Promotions by environment and outcome (requested, denied, pending_multisig, succeeded, rolled_back, failed)',
  labelNames: ['env', 'outcome'] as const,
  registers: [promotionRegistry],
});

export const canaryRollbacks = new Counter({
  name: 'ai_infra_canary_rollbacks_total',
  help: 'Canary rollouts rolled back (judge failure, too many inconclusive windows, or a step error)',
  labelNames: ['env'] as const,
  registers: [promotionRegistry],
});
