/** The quarantine module's tables as parity compares them. */
import type { Executor } from '../../platform/ports/database.js';
import { toIso, toIsoOrNull } from '../../platform/sql/schema.js';
import { allQuarantineRows } from './store.js';

export interface QuarantineSnapshot {
  id: string;
  action: string;
  artifactId: string;
  status: string;
  reason: string;
  requestedBy: string;
  createdAt: string;
  appliedAt: string | null;
  recordSignature: string | null;
  effects: string | null;
  approvals: string[];
}

/** Every quarantine request by id, with its approvers. */
export async function quarantineSnapshot(x: Executor): Promise<QuarantineSnapshot[]> {
  const { requests, approvals } = await allQuarantineRows(x);
  return requests.map((r) => ({
    id: r.request_id,
    action: r.action,
    artifactId: r.artifact_id,
    status: r.status,
    reason: r.reason,
    requestedBy: r.requested_by,
    createdAt: toIso(r.created_at),
    appliedAt: toIsoOrNull(r.applied_at),
    recordSignature: r.record_signature,
    effects: r.effects,
    approvals: approvals.filter((a) => a.request_id === r.request_id).map((a) => `${a.approver_kid}@${a.expires_at}`),
  }));
}
