/**
 * The drift records: the report index (reports themselves are canonical JSON in the drift
 * store, their sha256 chained by `drift.report`) and signed retrain suggestions with their
 * lifecycle (open → accepted | dismissed; open | accepted → resolved when a promotion applies an
 * artifact retrained from it). The runs call {@link DriftRecords.recordReport}; the rollout calls
 * {@link DriftRecords.resolveApplied} in the transaction that applies a promotion.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Transaction } from 'kysely';
import { canonicalJson, sha256Hex } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import { isUniqueViolation } from '../../platform/sql/errors.js';
import type { DB } from '../../platform/sql/schema.js';
import type { KeyService } from '../keys/service.js';
import type { RegistryService } from '../registry/service.js';
import type { WindowReport } from './detect.js';
import { writeReport, type Recorded } from './record-report.js';
import type { DriftReportRecord, Page, RetrainSuggestion, SuggestionStatus } from './records.js';
import type { DriftObjects } from './segments.js';
import { findReport, findSuggestion, listReports, listSuggestions, modelOf, setSuggestionStatus } from './store.js';
import { assertTransition, checkLimit, decision, decodeCursor, encodeCursor, summaryOf } from './suggestions.js';

export interface DriftRecordsDeps {
  database: Database;
  /** the drift store: reports are written to and read back from `drift-reports/<model>/<env>/<reportId>.json` */
  objects: DriftObjects;
  keys: KeyService;
  audit: AuditLog;
  clock: Clock;
  /** an applied artifact's manifest (`parent.suggestionId`), read in the applying transaction */
  registry: Pick<RegistryService, 'get'>;
  /** `ai_infra_drift_suggestions_total{model,env,detector}`: one per raised suggestion */
  metrics?: { driftSuggestion(model: string, env: string, detector: string): void };
}

/** What a run's report is about. */
export interface ReportRun {
  runId: string;
  model: string;
  env: string;
  artifactId: string;
  from: Date;
  to: Date;
}

/** A promotion that has just been applied (the rollout's end, in its transaction). */
export interface AppliedPromotion {
  promotionId: string;
  artifactId: string;
  modelName: string;
  env: string;
  at: Date;
}

async function readAll(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

/**
 * @example
 * const records = new DriftRecords({ database, objects, keys, audit, clock, registry });
 * const { suggestionId, raised } = await records.recordReport(run, detectWindow(window, baseline));
 * await records.decide(suggestionId!, 'accept', 'retraining on November data', 'alice');
 */
export class DriftRecords {
  constructor(private readonly d: DriftRecordsDeps) {}

  /**
   * Stores and indexes a run's report, once per run (a retried Report task gets the first
   * attempt's report back): the object first, then the index row, `drift.report` and the
   * suggestion raised or attached, in one transaction.
   */
  async recordReport(run: ReportRun, report: WindowReport): Promise<Recorded> {
    const done = await this.#recorded(run.runId);
    if (done) return done;
    const reportId = `rep-${randomUUID()}`;
    const body = canonicalJson(report);
    const objectKey = `drift-reports/${run.model}/${run.env}/${reportId}.json`;
    await this.d.objects.put(objectKey, body, { contentType: 'application/json' });
    const record: Omit<DriftReportRecord, 'suggestionId'> = {
      reportId,
      runId: run.runId,
      model: run.model,
      env: run.env,
      artifactId: run.artifactId,
      from: run.from.toISOString(),
      to: run.to.toISOString(),
      verdict: report.verdict,
      objectKey,
      sha256: sha256Hex(body),
      summary: summaryOf(report),
      createdAt: this.d.clock.now().toISOString(),
    };
    let out: Recorded;
    try {
      out = await this.d.database.db.transaction().execute((tx) => writeReport(this.d, tx, record));
    } catch (e) {
      // another attempt of the run, or a concurrent report raising the same suggestion, committed first
      if (!isUniqueViolation(e)) throw e;
      const again = await this.#recorded(run.runId);
      if (again) return again;
      out = await this.d.database.db.transaction().execute((tx) => writeReport(this.d, tx, record));
    }
    const detector = record.summary.reasons[0]?.detector;
    if (out.raised && detector) this.d.metrics?.driftSuggestion(run.model, run.env, detector);
    return out;
  }

  async #recorded(runId: string): Promise<Recorded | undefined> {
    const r = await findReport(this.d.database.db, { runId });
    return r && { reportId: r.reportId, verdict: r.verdict, suggestionId: r.suggestionId, raised: false };
  }

  async reports(q: { model?: string; env?: string; since?: Date; limit: number; cursor?: string }): Promise<Page<DriftReportRecord>> {
    const limit = checkLimit(q.limit);
    const items = await listReports(this.d.database.db, { ...q, limit: limit + 1, after: decodeCursor(q.cursor) });
    return page(items.slice(0, limit), items.length > limit, (r) => encodeCursor(r.createdAt, r.reportId));
  }

  /** The index record and the stored report; refuses (naming the report) a stored object whose sha256 is not the indexed one. */
  async report(reportId: string): Promise<{ record: DriftReportRecord; report: Record<string, unknown> } | undefined> {
    const record = await findReport(this.d.database.db, { reportId });
    if (!record) return undefined;
    const bytes = await readAll(await this.d.objects.get(record.objectKey));
    const actual = sha256Hex(bytes);
    if (actual !== record.sha256)
      throw new AegisError(
        'SHA256_MISMATCH',
        `drift report ${reportId}: the stored object ${record.objectKey} has sha256 ${actual}, not the indexed ${record.sha256}`,
        { details: { reportId, objectKey: record.objectKey, expected: record.sha256, actual } },
      );
    return { record, report: JSON.parse(bytes.toString('utf8')) as Record<string, unknown> };
  }

  async suggestions(q: {
    model?: string;
    env?: string;
    status?: SuggestionStatus;
    limit: number;
    cursor?: string;
  }): Promise<Page<RetrainSuggestion>> {
    const limit = checkLimit(q.limit);
    const items = await listSuggestions(this.d.database.db, { ...q, limit: limit + 1, after: decodeCursor(q.cursor) });
    return page(items.slice(0, limit), items.length > limit, (s) => encodeCursor(s.createdAt, s.suggestionId));
  }

  suggestion(suggestionId: string): Promise<RetrainSuggestion | undefined> {
    return findSuggestion(this.d.database.db, { suggestionId });
  }

  /** The suggestions raised for an artifact as it served, or resolved by it (lineage), oldest first. */
  async suggestionsOf(artifactId: string): Promise<RetrainSuggestion[]> {
    return (await listSuggestions(this.d.database.db, { artifactId, limit: 500 })).reverse();
  }

  /** Accepts or dismisses (SUGGESTION_TRANSITIONS; 409 naming `status` otherwise), audited in the same transaction. */
  async decide(suggestionId: string, d: 'accept' | 'dismiss', reason: string, principal: string): Promise<RetrainSuggestion> {
    const { status, reason: text } = decision(d, reason);
    const at = this.d.clock.now();
    return this.d.database.db.transaction().execute(async (tx) => {
      const s = await findSuggestion(tx, { suggestionId }, true);
      if (!s) throw new AegisError('NOT_FOUND', `no retrain suggestion ${suggestionId}`, { field: 'suggestionId' });
      assertTransition(suggestionId, s.status, status);
      await setSuggestionStatus(tx, suggestionId, { status, reason: text, by: principal, at });
      await this.d.audit.append(tx, {
        type: status === 'accepted' ? 'drift.suggestion_accepted' : 'drift.suggestion_dismissed',
        actor: principal,
        subject: `drift-suggestion:${suggestionId}`,
        payload: { suggestionId, status, reason: text, by: principal, at: at.toISOString() },
      });
      return (await findSuggestion(tx, { suggestionId }))!;
    });
  }

  /**
   * Resolves the suggestion an applied artifact was retrained from (its manifest's
   * `parent.suggestionId`) when that suggestion is of the same model and environment and still
   * open or accepted; anything else is left as it is. Runs in the applying transaction.
   */
  async resolveApplied(tx: Transaction<DB>, a: AppliedPromotion): Promise<void> {
    const suggestionId = (await this.d.registry.get(a.artifactId, tx))?.manifest.parent?.suggestionId;
    if (!suggestionId) return;
    const s = await findSuggestion(tx, { suggestionId }, true);
    if (!s || s.model !== a.modelName || s.env !== a.env || (s.status !== 'open' && s.status !== 'accepted')) return;
    const resolvedBy = { artifactId: a.artifactId, promotionId: a.promotionId };
    await setSuggestionStatus(tx, suggestionId, { status: 'resolved', reason: null, by: 'rollout', at: a.at, resolvedBy });
    await this.d.audit.append(tx, {
      type: 'drift.suggestion_resolved',
      actor: 'rollout',
      subject: `drift-suggestion:${suggestionId}`,
      payload: { suggestionId, ...resolvedBy, at: a.at.toISOString() },
    });
  }

  modelOf(kind: 'report' | 'suggestion', id: string): Promise<string | undefined> {
    return modelOf(this.d.database.db, kind, id);
  }
}

function page<T>(items: T[], more: boolean, cursorOf: (last: T) => string): Page<T> {
  const last = items[items.length - 1];
  return { items, nextCursor: more && last ? cursorOf(last) : null };
}
