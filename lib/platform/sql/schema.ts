import type { ColumnType } from 'kysely';
import type { ServingDeploymentsTable, ServingEventsTable, ServingIngestWatermarksTable, ServingLabelsTable } from './schema-serving.js';
import type { DriftReportsTable, DriftRunsTable, DriftSuggestionsTable } from './schema-drift.js';
export type { DriftReportsTable, DriftRunsTable, DriftSuggestionsTable } from './schema-drift.js';
import type { EventTables } from './schema-events.js';
import type { RegistrationsTable } from './schema-registrations.js';
export type { RegistrationsTable } from './schema-registrations.js';
import type { AuditEventsTable, AuditHeadTable } from './schema-audit.js';
export type { AuditEventsTable, AuditHeadTable } from './schema-audit.js';
export type * from './schema-events.js';
export type { ServingDeploymentsTable, ServingEventsTable, ServingIngestWatermarksTable, ServingLabelsTable } from './schema-serving.js';

/**
 * Timestamps are written as Date: the Data API types a string parameter as VARCHAR, which
 * PostgreSQL will not put into a timestamptz column (pg and PGlite send strings untyped and
 * hide that). They come back as Date, or as strings from some drivers.
 */
type Ts = ColumnType<Date | string, Date, Date>;
/** int8 comes back as string from pg and as number from the Data API. */
type Int8 = ColumnType<string | number, number, number>;

export interface ModelsTable {
  name: string;
  latest_version: number;
  created_by: string;
  created_at: Ts;
  /** the team label scoped grants name (migration 0009); null: none */
  team: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ArtifactsTable {
  artifact_id: string;
  model_name: string;
  version: number;
  sha256: string;
  size: Int8;
  storage_key: string;
  storage_version_id: string;
  manifest_key: string;
  manifest_version_id: string;
  signature_key: string;
  signature_version_id: string;
  /** canonical JSON of the stored manifest */
  manifest: string;
  manifest_sha256: string;
  manifest_signature_id: string;
  signer_id: string;
  created_by: string;
  created_at: Ts;
}

export interface ManifestSignaturesTable {
  manifest_signature_id: string;
  artifact_id: string;
  signer_id: string;
  alg: string;
  signature: string;
  ts: Ts;
}

export interface SigningKeysTable {
  kid: string;
  purpose: string;
  alg: string;
  public_key: string;
  backend: string;
  key_ref: string;
  not_before: Ts;
  not_after: Ts | null;
  revoked_at: Ts | null;
  owner: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface UploadsTable {
  upload_id: string;
  model_name: string;
  storage_key: string;
  created_by: string;
  created_at: Ts;
  expires_at: Ts;
  max_size: Int8;
  /** a multipart upload's part size (migration 0018); null for a single upload, or a multipart one created before 0018 */
  part_bytes: ColumnType<string | number | null, number | null | undefined, number | null>;
  /** when an artifact claimed the upload; null while pending */
  registered_at: ColumnType<Date | string | null, Date | string | null | undefined, Date | string | null>;
  /** when the expiry job expired it (its bytes are being removed, then the row) */
  expired_at: ColumnType<Date | string | null, Date | string | null | undefined, Date | string | null>;
}

export interface IdempotencyKeysTable {
  principal: string;
  idempotency_key: string;
  request_sha256: string;
  artifact_id: string;
  created_at: Ts;
}

export interface ApiTokensTable {
  token_sha256: string;
  /** public id (`tok_` + 16 hex): lists, revokes and rotates a token without its secret */
  token_id: string;
  principal: string;
  role: string;
  created_at: Ts;
  /** null for tokens created before 0008_token_lifecycle */
  created_by: string | null;
  expires_at: Ts;
  /** written at most once a minute per token (see TokenService.resolve) */
  last_used_at: Ts | null;
  revoked_at: Ts | null;
  revoked_by: string | null;
  /** canonical JSON of the token's scope grant (migration 0009); null: global */
  scope: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface DatasetsTable {
  dataset_id: string;
  version: string;
  checksum: string;
  uri: string;
  /** canonical JSON, or null */
  schema: string | null;
  created_by: string;
  created_at: Ts;
}

export interface ArtifactDatasetsTable {
  artifact_id: string;
  dataset_id: string;
  version: string;
}

export interface PromotionsTable {
  promotion_id: string;
  kind: string;
  artifact_id: string;
  model_name: string;
  target_env: string;
  manifest_signature_id: string;
  status: string;
  requested_by: string;
  reason: string;
  canary: string;
  policy_decision: string;
  threshold: number | null;
  in_flight_key: string | null;
  created_at: Ts;
  applied_at: Ts | null;
  record_signature: string | null;
  rollout_state: string | null;
}

export interface PromotionApprovalsTable {
  promotion_id: string;
  approver_kid: string;
  signature: string;
  expires_at: string;
  created_at: Ts;
}

export interface PromotionStepsTable {
  promotion_id: string;
  step: number;
  state: string;
  input: string;
  output: string | null;
  error: string | null;
  entered_at: Ts;
  finished_at: Ts | null;
  /** the runner (execution) the step ran under, and its lease token; null in rows rebuilt from the archive */
  runner?: string | null;
  lease_token?: number | null;
}

/** Who advances a rollout (migration 0007): runner coordination, deliberately not rebuilt from the archive. */
export interface RolloutLeasesTable {
  promotion_id: string;
  holder: string;
  /** the fencing token: raised whenever the holder changes; a step writes only under the current one */
  token: number;
  expires_at: Ts;
  due_at: Ts | null;
  acquired_at: Ts;
}

export interface CanaryVerdictsTable {
  promotion_id: string;
  seq: number;
  stage: number;
  percent: number;
  window_from: Ts;
  window_to: Ts;
  verdict: string;
  reason: string;
  next: string;
  stable_requests: number;
  canary_requests: number;
  stable_errors: number | null;
  canary_errors: number | null;
  detail: string;
  judgement: string | null;
  judged_at: Ts;
  /** the rollout phase judged (migration 0014): `shadow` or `hold`; null for a canary stage */
  phase?: string | null;
  /** a shadow window's requests compared with the stable answer, and how many agreed */
  agreement_compared?: number | null;
  agreement_agreed?: number | null;
}

export interface RoutesTable {
  model_name: string;
  env: string;
  stable_artifact_id: string | null;
  canary_artifact_id: string | null;
  canary_percent: number;
  /** the candidate mirrored a share of requests (migration 0014): answers recorded, never returned */
  shadow_artifact_id?: string | null;
  shadow_percent?: number;
  promotion_id: string | null;
  updated_at: Ts;
}

export interface QuarantineRequestsTable {
  request_id: string;
  /** `quarantine` or `release` */
  action: string;
  artifact_id: string;
  model_name: string;
  /** `pending_multisig` or `applied` */
  status: string;
  reason: string;
  requested_by: string;
  /** canonical JSON of SentinelNet's decision */
  policy_decision: string;
  threshold: number | null;
  pending_key: string | null;
  created_at: Ts;
  applied_at: Ts | null;
  /** canonical JSON of the applied record's manifest-key signature */
  record_signature: string | null;
  /** canonical JSON of what enforcing a quarantine did */
  effects: string | null;
}

export interface QuarantineApprovalsTable {
  request_id: string;
  approver_kid: string;
  signature: string;
  expires_at: string;
  created_at: Ts;
}

export interface DB extends EventTables {
  models: ModelsTable;
  artifacts: ArtifactsTable;
  manifest_signatures: ManifestSignaturesTable;
  signing_keys: SigningKeysTable;
  uploads: UploadsTable;
  idempotency_keys: IdempotencyKeysTable;
  registrations: RegistrationsTable;
  api_tokens: ApiTokensTable;
  datasets: DatasetsTable;
  artifact_datasets: ArtifactDatasetsTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  promotions: PromotionsTable;
  promotion_approvals: PromotionApprovalsTable;
  promotion_steps: PromotionStepsTable;
  routes: RoutesTable;
  canary_verdicts: CanaryVerdictsTable;
  rollout_leases: RolloutLeasesTable;
  quarantine_requests: QuarantineRequestsTable;
  quarantine_approvals: QuarantineApprovalsTable;
  serving_deployments: ServingDeploymentsTable;
  serving_events: ServingEventsTable;
  serving_labels: ServingLabelsTable;
  serving_ingest_watermarks: ServingIngestWatermarksTable;
  drift_runs: DriftRunsTable;
  drift_reports: DriftReportsTable;
  drift_suggestions: DriftSuggestionsTable;
}

export const toIso = (v: Date | string): string => (v instanceof Date ? v : new Date(v)).toISOString();
/** An ISO timestamp (as events and API inputs carry them) for a timestamp column. */
export const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));
export const toDateOrNull = (v: Date | string | null): Date | null => (v === null ? null : toDate(v));
export const toIsoOrNull = (v: Date | string | null): string | null => (v === null ? null : toIso(v));
