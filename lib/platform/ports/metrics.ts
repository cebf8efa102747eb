/** The metrics port: the series the services record and where they go. Adapters: `adapters/metrics/{prometheus,emf}.ts`. */

/** Every series the services record, with its kind and labels (sinks define help and buckets). */
export const SERVICE_METRICS = {
  aegis_registry_registrations_total: { kind: 'counter', labels: ['outcome'] },
  ai_infra_artifact_registration_latency_seconds: { kind: 'histogram', labels: [] },
  ai_infra_promotion_latency_seconds: { kind: 'histogram', labels: ['env', 'outcome'] },
  aegis_registry_promotions_total: { kind: 'counter', labels: ['env', 'outcome'] },
  ai_infra_canary_rollbacks_total: { kind: 'counter', labels: ['env'] },
  ai_infra_canary_verdicts_total: { kind: 'counter', labels: ['env', 'verdict'] },
  model_inference_latency_seconds: { kind: 'histogram', labels: ['model', 'env', 'variant', 'artifact_id'] },
  model_inference_requests_total: { kind: 'counter', labels: ['model', 'env', 'variant', 'artifact_id', 'outcome'] },
  model_inference_error_rate: { kind: 'gauge', labels: ['model', 'env', 'variant', 'artifact_id'] },
  model_prediction_quality: { kind: 'gauge', labels: ['model', 'env', 'variant', 'artifact_id'] },
  ai_infra_serving_model_loads_total: { kind: 'counter', labels: ['env', 'variant'] },
  ai_infra_drift_run_duration_seconds: { kind: 'histogram', labels: ['env', 'status'] },
  ai_infra_drift_suggestions_total: { kind: 'counter', labels: ['model', 'env', 'detector'] },
  ai_infra_canary_traffic_percent: { kind: 'gauge', labels: ['model', 'env'] },
  ai_infra_audit_archive_lag_events: { kind: 'gauge', labels: [] },
  ai_infra_audit_verifications_total: { kind: 'counter', labels: ['source', 'outcome'] },
  ai_infra_event_deliveries_total: { kind: 'counter', labels: ['kind', 'outcome'] },
  // local only: a CloudWatch metric per route would cost more than it tells (the request span carries the count on AWS)
  ai_infra_db_statements_per_request: { kind: 'histogram', labels: ['route'], localOnly: true },
} as const satisfies Record<string, { kind: 'counter' | 'histogram' | 'gauge'; labels: readonly string[]; localOnly?: true }>;

export type ServiceMetricName = keyof typeof SERVICE_METRICS;

export type MetricUnitName = 'Count' | 'Seconds' | 'None';

/** The labels of a served model's series: which deployment, which arm, which signed artifact. */
export interface InferenceLabels {
  model: string;
  env: string;
  variant: string;
  artifact_id: string;
}

/** A destination for the measurements: Prometheus locally, CloudWatch (EMF) in Lambda. */
export interface MetricsSink {
  /** `unit` is `Count` (counters), `Seconds` (histograms) or `None` (gauges: the value replaces the last) */
  emit(name: ServiceMetricName, unit: MetricUnitName, value: number, dimensions: Record<string, string>): void;
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
  /** a judged canary window's verdict (`pass`, `fail`, `inconclusive`) in a target environment */
  canaryVerdict(env: string, verdict: string): void;
  /** one served request: its outcome (`ok`, `error`) and latency */
  inference(labels: InferenceLabels, outcome: 'ok' | 'error', seconds: number): void;
  /** the error rate (0–1) of a served model's requests, and its quality (share of labelled predictions that were correct) when known */
  inferenceRates(labels: InferenceLabels, rates: { errorRate?: number; quality?: number }): void;
  /** serving started loading a model (read, verify, parse) for a variant (`stable`, `canary`, `shadow`, `warm-up`) */
  modelLoad(env: string, variant: string): void;
  /** a drift run ended (`succeeded`, `skipped`, `failed`): its time from being recorded to its end */
  driftRun(env: string, status: string, seconds: number): void;
  /** a retrain suggestion raised for a deployment, by the detector of its first reason (`dataset`, `label`, `prediction`, `performance`) */
  driftSuggestion(model: string, env: string, detector: string): void;
  /** a rollout step set the share of a deployment's requests the canary gets (0 when its rollout ends) */
  canaryTraffic(model: string, env: string, percent: number): void;
  /** committed audit events the archive did not hold when an archive run ended (the job's lag behind the chain) */
  auditArchiveLag(events: number): void;
  /** a check of the audit chain: a verification of the `database` or `archive` copy, or the head `checkpoint` job, `ok` or `failed` */
  auditVerification(source: 'database' | 'archive' | 'checkpoint', outcome: 'ok' | 'failed'): void;
  /** `n` event deliveries to a webhook or the bus: delivered, failed (retried later) or dead (after the last attempt) */
  eventDeliveries(kind: 'webhook' | 'bus', outcome: 'delivered' | 'failed' | 'dead', n: number): void;
  /** the SQL statements one request to `route` ran (BEGIN and COMMIT not counted) */
  requestStatements(route: string, n: number): void;
}

/** Measurements a process serves itself to a scraper: the local server's Prometheus text at `/metrics`. */
export interface MetricsExposition {
  readonly contentType: string;
  text(): Promise<string>;
}
