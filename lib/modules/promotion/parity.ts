/** The promotion module's tables as parity compares them. */
import { canonicalJson } from '../../kernel/canonical.js';
import type { Executor } from '../../platform/ports/database.js';
import { toIso, toIsoOrNull } from '../../platform/sql/schema.js';
import { allPromotionRows } from './store.js';

export interface PromotionSnapshot {
  id: string;
  kind: string;
  artifact: string;
  model: string;
  env: string;
  manifestSignatureId: string;
  status: string;
  requestedBy: string;
  reason: string;
  canary: string;
  policyDecision: string;
  threshold: number | null;
  inFlightKey: string | null;
  createdAt: string;
  appliedAt: string | null;
  recordSignature: string | null;
  rolloutState: string | null;
}

export interface ApprovalSnapshot {
  id: string;
  promotion: string;
  approver: string;
  signature: string;
  expiresAt: string;
  createdAt: string;
}

/** JSON columns compared as canonical JSON (a driver may hand jsonb back re-serialized). */
const recanonical = (text: string | null): string | null => (text === null ? null : canonicalJson(JSON.parse(text)));

/** Every promotion (JSON columns re-canonicalized) and approval. */
export async function promotionsSnapshot(x: Executor): Promise<{ promotions: PromotionSnapshot[]; approvals: ApprovalSnapshot[] }> {
  const rows = await allPromotionRows(x);
  const promotions = rows.promotions.map((r): PromotionSnapshot => ({
    id: r.promotion_id,
    kind: r.kind,
    artifact: r.artifact_id,
    model: r.model_name,
    env: r.target_env,
    manifestSignatureId: r.manifest_signature_id,
    status: r.status,
    requestedBy: r.requested_by,
    reason: r.reason,
    canary: recanonical(r.canary)!,
    policyDecision: recanonical(r.policy_decision)!,
    threshold: r.threshold,
    inFlightKey: r.in_flight_key,
    createdAt: toIso(r.created_at),
    appliedAt: toIsoOrNull(r.applied_at),
    recordSignature: recanonical(r.record_signature),
    rolloutState: recanonical(r.rollout_state),
  }));
  const approvals = rows.approvals.map((r) => ({
    id: `${r.promotion_id} ${r.approver_kid}`,
    promotion: r.promotion_id,
    approver: r.approver_kid,
    signature: r.signature,
    expiresAt: r.expires_at,
    createdAt: toIso(r.created_at),
  }));
  return { promotions, approvals };
}
