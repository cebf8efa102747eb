/**
 * Restoring the quarantine module from the chain: a `quarantine_requests` row per
 * `quarantine.requested`, its accepted approvals, its applied record and what enforcing it
 * did, so a rebuilt registry still knows which artifacts are quarantined. Pure: the rebuild
 * writes the rows.
 */
import type { Insertable } from 'kysely';
import type { AuditEvent } from '../../kernel/audit-chain.js';
import { canonicalJson } from '../../kernel/canonical.js';
import type { Executor } from '../../platform/ports/database.js';
import { toDate, type DB } from '../../platform/sql/schema.js';
import { handlerFor, inChunks, parsePayload, type RestoreLog } from '../restore.js';
import type { PolicyDecision } from '../../kernel/policy.js';
import {
  QuarantineApprovalAcceptedPayload,
  QuarantineAppliedPayload,
  QuarantineEnforcedPayload,
  QuarantineRequestedPayload,
} from './events.js';
import { insertApprovals, insertRequests, requestRow } from './store.js';

type RequestRow = Insertable<DB['quarantine_requests']>;
type ApprovalRow = Insertable<DB['quarantine_approvals']>;

export interface QuarantineRows {
  quarantineRequests: RequestRow[];
  quarantineApprovals: ApprovalRow[];
}

/** The requests replayed from the chain, in chain order. */
export class QuarantineRestore {
  readonly requests = new Map<string, RequestRow>();
  readonly approvals = new Map<string, ApprovalRow>();

  /** Replays one event of a type in {@link RESTORES}; any other is ignored. */
  apply(e: AuditEvent, log: RestoreLog): void {
    handlerFor(HANDLERS, e.type)?.(this, e, log);
  }

  /** The rows of requests about `restored` artifacts (the others' artifacts are not in the rebuilt registry). */
  take(restored: ReadonlySet<string>): QuarantineRows {
    const quarantineRequests = [...this.requests.values()].filter((r) => restored.has(r.artifact_id));
    const kept = new Set(quarantineRequests.map((r) => r.request_id));
    return { quarantineRequests, quarantineApprovals: [...this.approvals.values()].filter((a) => kept.has(a.request_id)) };
  }
}

const notFound = (e: AuditEvent, log: RestoreLog, requestId: string) =>
  log.problems.push({
    kind: 'event',
    id: `seq ${e.seq}`,
    problem: 'conflict',
    detail: `${e.type}: no quarantine request ${requestId} before it`,
  });

const HANDLERS: Readonly<Record<string, (r: QuarantineRestore, e: AuditEvent, log: RestoreLog) => void>> = {
  'quarantine.requested': (r, e, log) => {
    const q = parsePayload(QuarantineRequestedPayload, e, 'event', log);
    if (!q) return;
    const row = requestRow({
      ...q,
      status: 'pending_multisig',
      requestedBy: e.actor,
      policyDecision: (e.payload as { policyDecision: PolicyDecision }).policyDecision,
      createdAt: toDate(q.createdAt),
      appliedAt: null,
      recordSignature: null,
      effects: null,
    });
    r.requests.set(q.requestId, row);
  },
  'quarantine.approval_accepted': (r, e, log) => {
    const a = parsePayload(QuarantineApprovalAcceptedPayload, e, 'event', log);
    if (!a) return;
    if (!r.requests.has(a.requestId)) return notFound(e, log, a.requestId);
    r.approvals.set(`${a.requestId}\u0000${a.approverId}`, {
      request_id: a.requestId,
      approver_kid: a.approverId,
      signature: a.signature,
      expires_at: a.expiresAt,
      created_at: toDate(a.at),
    });
  },
  'quarantine.applied': (r, e, log) => {
    const a = parsePayload(QuarantineAppliedPayload, e, 'event', log);
    if (!a) return;
    const row = r.requests.get(a.requestId);
    if (!row) return notFound(e, log, a.requestId);
    Object.assign(row, {
      status: 'applied',
      pending_key: null,
      applied_at: toDate(a.appliedAt),
      record_signature: canonicalJson(a.recordSignature),
    });
  },
  'quarantine.enforced': (r, e, log) => {
    const a = parsePayload(QuarantineEnforcedPayload, e, 'event', log);
    if (!a) return;
    const row = r.requests.get(a.requestId);
    if (!row) return notFound(e, log, a.requestId);
    row.effects = canonicalJson(a.effects);
  },
};

/** The event types the quarantine restore reads. */
export const RESTORES: readonly string[] = Object.keys(HANDLERS);

/** Writes the rows in the caller's transaction. */
export async function writeQuarantine(x: Executor, rows: QuarantineRows): Promise<void> {
  await inChunks(rows.quarantineRequests, (part) => insertRequests(x, part));
  await inChunks(rows.quarantineApprovals, (part) => insertApprovals(x, part));
}
