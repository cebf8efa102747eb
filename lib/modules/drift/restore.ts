/**
 * Restoring the drift records from the chain: a `drift_reports` row per `drift.report` (the
 * report objects stay in the drift store; their sha256 is in the event), a `drift_suggestions`
 * row per `drift.suggestion`, and each later transition (accepted, dismissed, resolved) applied
 * in chain order. Runs are operational state and are not restored. Pure: the rebuild writes the rows.
 */
import type { AuditEvent } from '../../kernel/audit-chain.js';
import type { Executor } from '../../platform/ports/database.js';
import { toDate } from '../../platform/sql/schema.js';
import { handlerFor, inChunks, parsePayload, type RestoreLog } from '../restore.js';
import {
  DriftReportPayload,
  DriftSuggestionAttachedPayload,
  DriftSuggestionDecidedPayload,
  DriftSuggestionPayload,
  DriftSuggestionResolvedPayload,
} from './events.js';
import { insertReports, insertSuggestions, reportRow, suggestionRow, type ReportRow, type SuggestionRow } from './store.js';

export interface DriftRows {
  driftReports: ReportRow[];
  driftSuggestions: SuggestionRow[];
}

/** The reports and suggestions replayed from the chain, in chain order. */
export class DriftRestore {
  readonly reports = new Map<string, ReportRow>();
  readonly suggestions = new Map<string, SuggestionRow>();

  apply(e: AuditEvent, log: RestoreLog): void {
    handlerFor(HANDLERS, e.type)?.(this, e, log);
  }

  /** Every report and suggestion (they name artifacts, but hold no row of the registry's). */
  take(): DriftRows {
    return { driftReports: [...this.reports.values()], driftSuggestions: [...this.suggestions.values()] };
  }
}

const conflict = (e: AuditEvent, log: RestoreLog, detail: string) =>
  log.problems.push({ kind: 'event', id: `seq ${e.seq}`, problem: 'conflict', detail: `${e.type}: ${detail}` });

/** The suggestion an event transitions, or a conflict problem when none was raised before it. */
function raised(r: DriftRestore, e: AuditEvent, log: RestoreLog, suggestionId: string): SuggestionRow | undefined {
  const row = r.suggestions.get(suggestionId);
  if (!row) conflict(e, log, `no drift suggestion ${suggestionId} before it`);
  return row;
}

const decided = (r: DriftRestore, e: AuditEvent, log: RestoreLog) => {
  const d = parsePayload(DriftSuggestionDecidedPayload, e, 'event', log);
  const row = d && raised(r, e, log, d.suggestionId);
  if (!d || !row) return;
  Object.assign(row, { status: d.status, status_reason: d.reason, status_by: d.by, status_at: toDate(d.at) });
};

const HANDLERS: Readonly<Record<string, (r: DriftRestore, e: AuditEvent, log: RestoreLog) => void>> = {
  'drift.report': (r, e, log) => {
    const p = parsePayload(DriftReportPayload, e, 'event', log);
    if (!p) return;
    if (r.reports.has(p.reportId)) return conflict(e, log, `drift report ${p.reportId} recorded twice`);
    r.reports.set(p.reportId, reportRow(p));
  },
  'drift.suggestion': (r, e, log) => {
    const s = parsePayload(DriftSuggestionPayload, e, 'event', log);
    if (!s) return;
    if (r.suggestions.has(s.suggestionId)) return conflict(e, log, `drift suggestion ${s.suggestionId} raised twice`);
    r.suggestions.set(s.suggestionId, suggestionRow({ ...s, statusReason: null, statusBy: null, statusAt: null, resolvedBy: null }));
  },
  'drift.suggestion_attached': (r, e, log) => {
    const a = parsePayload(DriftSuggestionAttachedPayload, e, 'event', log);
    if (!a || !raised(r, e, log, a.suggestionId)) return;
    const report = r.reports.get(a.reportId);
    if (!report) return conflict(e, log, `no drift report ${a.reportId} before it`);
    report.suggestion_id = a.suggestionId;
  },
  'drift.suggestion_accepted': decided,
  'drift.suggestion_dismissed': decided,
  'drift.suggestion_resolved': (r, e, log) => {
    const p = parsePayload(DriftSuggestionResolvedPayload, e, 'event', log);
    const row = p && raised(r, e, log, p.suggestionId);
    if (!p || !row) return;
    Object.assign(row, {
      status: 'resolved',
      status_reason: null,
      status_by: e.actor,
      status_at: toDate(p.at),
      resolved_by_artifact_id: p.artifactId,
      resolved_by_promotion_id: p.promotionId,
    });
  },
};

/** The event types the drift restore reads. */
export const RESTORES: readonly string[] = Object.keys(HANDLERS);

/** Writes the rows in the caller's transaction. */
export async function writeDrift(x: Executor, rows: DriftRows): Promise<void> {
  await inChunks(rows.driftSuggestions, (part) => insertSuggestions(x, part));
  await inChunks(rows.driftReports, (part) => insertReports(x, part));
}
