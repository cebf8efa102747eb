/**
 * Recording one run's report: the index row, its `drift.report` event, and — when it drifts —
 * the deployment's one suggestion for the serving artifact raised (signed, `drift.suggestion`)
 * or the report attached to it (`drift.suggestion_attached`). One transaction; the report
 * object is written before it by the caller.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { DB } from '../../platform/sql/schema.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { KeyService } from '../keys/service.js';
import { suggestionStatementBytes, type DriftReportRecord, type SuggestionSignature, type SuggestionStatement } from './records.js';
import { findSuggestion, insertReports, insertSuggestions, reportRow, suggestionRow } from './store.js';

export interface Recorded {
  reportId: string;
  verdict: DriftReportRecord['verdict'];
  suggestionId: string | null;
  raised: boolean;
}

/** Signs a suggestion's statement with the active manifest key as `tx` sees it. */
export async function signSuggestion(keys: KeyService, tx: Transaction<DB>, s: SuggestionStatement): Promise<SuggestionSignature> {
  const signer = await keys.activeSigner('manifest', tx);
  return {
    signerId: signer.kid,
    alg: signer.alg,
    ts: s.createdAt,
    signature: (await signer.sign(suggestionStatementBytes(s))).toString('base64'),
  };
}

/**
 * Writes the index row and its events. A drifted report raises the suggestion of its
 * deployment and serving artifact when there is none, or attaches to the one there is,
 * whatever its status: one suggestion per deployment and artifact, ever (a dismissed or
 * resolved one collects the later reports but never re-opens).
 */
export async function writeReport(
  d: { audit: AuditLog; keys: KeyService },
  tx: Transaction<DB>,
  record: Omit<DriftReportRecord, 'suggestionId'>,
): Promise<Recorded> {
  const drifted = record.verdict === 'drift' && record.summary.reasons.length > 0;
  const existing = drifted
    ? await findSuggestion(tx, { model: record.model, env: record.env, artifactId: record.artifactId }, true)
    : undefined;
  const suggestionId = drifted ? (existing?.suggestionId ?? `sug-${randomUUID()}`) : null;
  const full: DriftReportRecord = { ...record, suggestionId };
  await insertReports(tx, [reportRow(full)]);
  await d.audit.append(tx, { type: 'drift.report', actor: 'drift', subject: `drift-report:${record.reportId}`, payload: { ...full } });
  const out = { reportId: record.reportId, verdict: record.verdict, suggestionId, raised: false };
  if (!suggestionId) return out;
  const subject = `drift-suggestion:${suggestionId}`;
  if (existing) {
    await d.audit.append(tx, {
      type: 'drift.suggestion_attached',
      actor: 'drift',
      subject,
      payload: { suggestionId, reportId: record.reportId, reasons: record.summary.reasons },
    });
    return out;
  }
  const statement: SuggestionStatement = {
    suggestionId,
    model: record.model,
    env: record.env,
    servingArtifactId: record.artifactId,
    reportId: record.reportId,
    reasons: record.summary.reasons,
    createdAt: record.createdAt,
  };
  const signature = await signSuggestion(d.keys, tx, statement);
  await insertSuggestions(tx, [
    suggestionRow({ ...statement, status: 'open', statusReason: null, statusBy: null, statusAt: null, resolvedBy: null, signature }),
  ]);
  await d.audit.append(tx, { type: 'drift.suggestion', actor: 'drift', subject, payload: { ...statement, status: 'open', signature } });
  return { ...out, raised: true };
}
