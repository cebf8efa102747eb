/** The drift module's tables (migration 0015); joined into `DB` in schema.ts. */
import type { ColumnType } from 'kysely';

type Ts = ColumnType<Date | string, Date, Date>;

/** One drift run: operational state, neither chained nor restored. */
export interface DriftRunsTable {
  run_id: string;
  model_name: string;
  env: string;
  artifact_id: string | null;
  window_from: Ts;
  window_to: Ts;
  /** `schedule` or `request` */
  trigger: string;
  requested_by: string;
  /** `running`, `succeeded`, `skipped`, `failed` */
  status: string;
  shards: number | null;
  report_id: string | null;
  error: string | null;
  created_at: Ts;
  finished_at: Ts | null;
}

/** The index of the reports in the drift store (restored from drift.report events). */
export interface DriftReportsTable {
  report_id: string;
  run_id: string;
  model_name: string;
  env: string;
  artifact_id: string;
  window_from: Ts;
  window_to: Ts;
  verdict: string;
  object_key: string;
  sha256: string;
  /** JSON text: DriftReportSummary (lib/modules/drift/records.ts) */
  summary: string;
  suggestion_id: string | null;
  created_at: Ts;
}

/** Signed retrain suggestions, one per deployment and serving artifact (restored from drift.suggestion* events). */
export interface DriftSuggestionsTable {
  suggestion_id: string;
  model_name: string;
  env: string;
  serving_artifact_id: string;
  report_id: string;
  /** JSON text: SuggestionReason[] (lib/modules/drift/records.ts) */
  reasons: string;
  status: string;
  status_reason: string | null;
  status_by: string | null;
  status_at: Ts | null;
  resolved_by_artifact_id: string | null;
  resolved_by_promotion_id: string | null;
  /** JSON text: the record signature {signerId, alg, ts, signature} */
  signature: string;
  created_at: Ts;
}
