/** The drift records' tables as parity compares them (runs are operational state: not compared). */
import type { Executor } from '../../platform/ports/database.js';
import type { DriftReportRecord, RetrainSuggestion } from './records.js';
import { allDriftRows } from './store.js';

export type DriftReportSnapshot = DriftReportRecord & { id: string };
export type DriftSuggestionSnapshot = RetrainSuggestion & { id: string };

/** Every indexed report and every suggestion (status, attached reports, resolved by), by id. */
export async function driftSnapshot(
  x: Executor,
): Promise<{ driftReports: DriftReportSnapshot[]; driftSuggestions: DriftSuggestionSnapshot[] }> {
  const { reports, suggestions } = await allDriftRows(x);
  return {
    driftReports: reports.map((r) => ({ id: r.reportId, ...r })),
    driftSuggestions: suggestions.map((s) => ({ id: s.suggestionId, ...s })),
  };
}
