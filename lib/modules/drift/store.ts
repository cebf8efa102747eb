/**
 * The drift records' tables — `drift_reports` (the report index) and `drift_suggestions` — and
 * the only code that builds SQL on them (`drift_runs` is run-store.ts's). Every function takes
 * the {@link Executor} it runs on; the row builders are exported so the restore writes the same
 * rows. JSON columns are text.
 */
import type { Insertable, Selectable } from 'kysely';
import type { Executor } from '../../platform/ports/database.js';
import { toDate, toIso, toIsoOrNull, type DB } from '../../platform/sql/schema.js';
import type {
  DriftReportRecord,
  DriftReportSummary,
  ReportVerdict,
  RetrainSuggestion,
  SuggestionReason,
  SuggestionSignature,
  SuggestionStatus,
} from './records.js';

export type ReportRow = Insertable<DB['drift_reports']>;
export type SuggestionRow = Insertable<DB['drift_suggestions']>;
type StoredReport = Selectable<DB['drift_reports']>;
type StoredSuggestion = Selectable<DB['drift_suggestions']>;

/** Where a page starts: after the item created at `at` with id `id` (newest first). */
export interface After {
  at: Date;
  id: string;
}

export const reportRow = (r: DriftReportRecord): ReportRow => ({
  report_id: r.reportId,
  run_id: r.runId,
  model_name: r.model,
  env: r.env,
  artifact_id: r.artifactId,
  window_from: toDate(r.from),
  window_to: toDate(r.to),
  verdict: r.verdict,
  object_key: r.objectKey,
  sha256: r.sha256,
  summary: JSON.stringify(r.summary),
  suggestion_id: r.suggestionId,
  created_at: toDate(r.createdAt),
});

export const toReport = (r: StoredReport): DriftReportRecord => ({
  reportId: r.report_id,
  runId: r.run_id,
  model: r.model_name,
  env: r.env,
  artifactId: r.artifact_id,
  from: toIso(r.window_from),
  to: toIso(r.window_to),
  verdict: r.verdict as ReportVerdict,
  objectKey: r.object_key,
  sha256: r.sha256.trim(),
  summary: JSON.parse(r.summary) as DriftReportSummary,
  suggestionId: r.suggestion_id,
  createdAt: toIso(r.created_at),
});

/** A suggestion as raised (status open), the row it is stored as. */
export const suggestionRow = (s: Omit<RetrainSuggestion, 'reportIds'>): SuggestionRow => ({
  suggestion_id: s.suggestionId,
  model_name: s.model,
  env: s.env,
  serving_artifact_id: s.servingArtifactId,
  report_id: s.reportId,
  reasons: JSON.stringify(s.reasons),
  status: s.status,
  status_reason: s.statusReason,
  status_by: s.statusBy,
  status_at: s.statusAt === null ? null : toDate(s.statusAt),
  resolved_by_artifact_id: s.resolvedBy?.artifactId ?? null,
  resolved_by_promotion_id: s.resolvedBy?.promotionId ?? null,
  signature: JSON.stringify(s.signature),
  created_at: toDate(s.createdAt),
});

/** The suggestion of a row, with its attached reports (the raising one first, then by creation). */
export const toSuggestion = (r: StoredSuggestion, attached: readonly string[]): RetrainSuggestion => ({
  suggestionId: r.suggestion_id,
  model: r.model_name,
  env: r.env,
  servingArtifactId: r.serving_artifact_id,
  reportId: r.report_id,
  reasons: JSON.parse(r.reasons) as SuggestionReason[],
  createdAt: toIso(r.created_at),
  status: r.status as SuggestionStatus,
  statusReason: r.status_reason,
  statusBy: r.status_by,
  statusAt: toIsoOrNull(r.status_at),
  resolvedBy:
    r.resolved_by_artifact_id && r.resolved_by_promotion_id
      ? { artifactId: r.resolved_by_artifact_id, promotionId: r.resolved_by_promotion_id }
      : null,
  reportIds: [r.report_id, ...attached.filter((id) => id !== r.report_id)],
  signature: JSON.parse(r.signature) as SuggestionSignature,
});

export async function insertReports(x: Executor, rows: ReportRow[]): Promise<void> {
  if (rows.length) await x.insertInto('drift_reports').values(rows).execute();
}

export async function insertSuggestions(x: Executor, rows: SuggestionRow[]): Promise<void> {
  if (rows.length) await x.insertInto('drift_suggestions').values(rows).execute();
}

export async function findReport(x: Executor, by: { reportId: string } | { runId: string }): Promise<DriftReportRecord | undefined> {
  const q = x.selectFrom('drift_reports').selectAll();
  const row = await ('reportId' in by ? q.where('report_id', '=', by.reportId) : q.where('run_id', '=', by.runId)).executeTakeFirst();
  return row && toReport(row);
}

/** Reports of a deployment (or all), newest first (creation time, then id). */
export async function listReports(
  x: Executor,
  q: { model?: string | undefined; env?: string | undefined; since?: Date | undefined; limit: number; after?: After | undefined },
): Promise<DriftReportRecord[]> {
  let query = x.selectFrom('drift_reports').selectAll().orderBy('created_at', 'desc').orderBy('report_id', 'desc').limit(q.limit);
  if (q.model !== undefined) query = query.where('model_name', '=', q.model);
  if (q.env !== undefined) query = query.where('env', '=', q.env);
  if (q.since) query = query.where('window_to', '>=', q.since);
  const after = q.after;
  if (after)
    query = query.where((eb) =>
      eb.or([eb('created_at', '<', after.at), eb.and([eb('created_at', '=', after.at), eb('report_id', '<', after.id)])]),
    );
  return (await query.execute()).map(toReport);
}

/** The ids of the reports attached to suggestions, in creation order. */
async function attachedTo(x: Executor, ids: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>(ids.map((id) => [id, []]));
  if (!ids.length) return out;
  const rows = await x
    .selectFrom('drift_reports')
    .select(['report_id', 'suggestion_id'])
    .where('suggestion_id', 'in', [...ids])
    .orderBy('created_at')
    .orderBy('report_id')
    .execute();
  for (const r of rows) out.get(r.suggestion_id!)?.push(r.report_id);
  return out;
}

/** A suggestion by id, or the one of a deployment and serving artifact; `lock`: FOR UPDATE (in a transaction). */
export async function findSuggestion(
  x: Executor,
  by: { suggestionId: string } | { model: string; env: string; artifactId: string },
  lock = false,
): Promise<RetrainSuggestion | undefined> {
  let q = x.selectFrom('drift_suggestions').selectAll();
  q =
    'suggestionId' in by
      ? q.where('suggestion_id', '=', by.suggestionId)
      : q.where('model_name', '=', by.model).where('env', '=', by.env).where('serving_artifact_id', '=', by.artifactId);
  const row = await (lock ? q.forUpdate() : q).executeTakeFirst();
  if (!row) return undefined;
  return toSuggestion(row, (await attachedTo(x, [row.suggestion_id])).get(row.suggestion_id)!);
}

/** Suggestions, newest first; filters by deployment, status and the artifact they were raised for or resolved by. */
export async function listSuggestions(
  x: Executor,
  q: {
    model?: string | undefined;
    env?: string | undefined;
    status?: SuggestionStatus | undefined;
    artifactId?: string | undefined;
    limit: number;
    after?: After | undefined;
  },
): Promise<RetrainSuggestion[]> {
  let query = x.selectFrom('drift_suggestions').selectAll().orderBy('created_at', 'desc').orderBy('suggestion_id', 'desc').limit(q.limit);
  if (q.model !== undefined) query = query.where('model_name', '=', q.model);
  if (q.env !== undefined) query = query.where('env', '=', q.env);
  if (q.status !== undefined) query = query.where('status', '=', q.status);
  const artifactId = q.artifactId;
  if (artifactId !== undefined)
    query = query.where((eb) => eb.or([eb('serving_artifact_id', '=', artifactId), eb('resolved_by_artifact_id', '=', artifactId)]));
  const after = q.after;
  if (after)
    query = query.where((eb) =>
      eb.or([eb('created_at', '<', after.at), eb.and([eb('created_at', '=', after.at), eb('suggestion_id', '<', after.id)])]),
    );
  const rows = await query.execute();
  const attached = await attachedTo(
    x,
    rows.map((r) => r.suggestion_id),
  );
  return rows.map((r) => toSuggestion(r, attached.get(r.suggestion_id)!));
}

/** A transition's fields (the caller checked it against SUGGESTION_TRANSITIONS under the row lock). */
export async function setSuggestionStatus(
  x: Executor,
  suggestionId: string,
  s: { status: SuggestionStatus; reason: string | null; by: string; at: Date; resolvedBy?: { artifactId: string; promotionId: string } },
): Promise<void> {
  await x
    .updateTable('drift_suggestions')
    .set({
      status: s.status,
      status_reason: s.reason,
      status_by: s.by,
      status_at: s.at,
      ...(s.resolvedBy ? { resolved_by_artifact_id: s.resolvedBy.artifactId, resolved_by_promotion_id: s.resolvedBy.promotionId } : {}),
    })
    .where('suggestion_id', '=', suggestionId)
    .execute();
}

/** The model of a report or suggestion (the scope check). */
export async function modelOf(x: Executor, kind: 'report' | 'suggestion', id: string): Promise<string | undefined> {
  const row =
    kind === 'report'
      ? await x.selectFrom('drift_reports').select('model_name').where('report_id', '=', id).executeTakeFirst()
      : await x.selectFrom('drift_suggestions').select('model_name').where('suggestion_id', '=', id).executeTakeFirst();
  return row?.model_name;
}

/** Every report and suggestion (parity). */
export async function allDriftRows(x: Executor): Promise<{ reports: DriftReportRecord[]; suggestions: RetrainSuggestion[] }> {
  const reports = (await x.selectFrom('drift_reports').selectAll().orderBy('report_id').execute()).map(toReport);
  const rows = await x.selectFrom('drift_suggestions').selectAll().orderBy('suggestion_id').execute();
  const attached = new Map<string, string[]>();
  for (const r of [...reports].sort((a, b) =>
    a.createdAt === b.createdAt ? (a.reportId < b.reportId ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1,
  ))
    if (r.suggestionId) attached.set(r.suggestionId, [...(attached.get(r.suggestionId) ?? []), r.reportId]);
  return { reports, suggestions: rows.map((r) => toSuggestion(r, attached.get(r.suggestion_id) ?? [])) };
}
