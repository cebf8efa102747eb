/** The serving module's tables (migrations 0011–0013); joined into `DB` in schema.ts. */
import type { ColumnType } from 'kysely';

type Ts = ColumnType<Date | string, Date, Date>;

/** Where an artifact first verified and served, per environment (from serving.verified). */
export interface ServingDeploymentsTable {
  artifact_id: string;
  env: string;
  model_name: string;
  manifest_signature_id: string;
  /** the runtime format that loaded it (`aegis.logreg/v1`, `onnx`) */
  format: string;
  verified_at: Ts;
}

/** One served request (migration 0011): what the canary judge counts. */
export interface ServingEventsTable {
  request_id: string;
  /** `<model>/<env>` */
  deployment_key: string;
  /** `stable`, `canary`, or `shadow` (a mirrored copy; migration 0014 keys events by request id and `is_shadow`) */
  variant: string;
  artifact_id: string;
  promotion_id: string | null;
  at: Ts;
  latency_ms: number;
  latency_bucket: number;
  error: boolean;
  /** the request waited on a model load: left out of the latency test */
  cold: boolean;
  prediction: string | null;
}

/** Label feedback by deployment and request id (migration 0012; the feedback route writes it). */
export interface ServingLabelsTable {
  /** `<model>/<env>`: a label counts only for that deployment's request */
  deployment_key: string;
  request_id: string;
  label: string;
  received_at: Ts;
}

/**
 * How far the `serving-ingest` function has inserted a deployment's events (migration 0013):
 * the latest event time seen, raised only. The judge reads it (minus the grace) as the end of
 * what is complete; derived from the events, so not restored.
 */
export interface ServingIngestWatermarksTable {
  /** `<model>/<env>` */
  deployment_key: string;
  /** the latest `at` of an inserted event (capped at the ingest's clock) */
  event_at: Ts;
  /** when an ingest last raised or confirmed it */
  updated_at: Ts;
}
