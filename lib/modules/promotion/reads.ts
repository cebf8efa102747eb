/**
 * How promotions read: `GET /v1/promotions/{id}` (with the rollout's trace and judged
 * windows), an artifact's history, and the summary lineage shows.
 */
import type { PolicyDecision } from '../../kernel/policy.js';
import type { CanaryConfig } from '../rollout/domain.js';
import type { CanaryVerdictView } from '../rollout/service.js';
import { quorum } from './approvals.js';
import { pendingTtlMs, type PromotionDeps } from './deps.js';
import { pendingExpiresAt, type PromotionStatus } from './domain.js';
import { expiredPending } from './expiry.js';
import { approvalsOf, findPromotion, promotionsOfArtifact, type StoredApproval, type StoredPromotion } from './store.js';
import { presentRollout, type RolloutView } from './view.js';

export interface PromotionRecord {
  promotionId: string;
  kind: 'promote' | 'rollback';
  artifactId: string;
  modelName: string;
  targetEnv: string;
  manifestSignatureId: string;
  status: PromotionStatus;
  requestedBy: string;
  reason: string;
  canary: CanaryConfig;
  policyDecision: PolicyDecision;
  threshold: number | null;
  /** `valid` (pending promotions only): whether the approval counts now (unexpired statement, unrevoked key) */
  approvals: { approverId: string; at: string; expiresAt: string; valid?: boolean; reason?: string }[];
  createdAt: string;
  /** when a pending multisig promotion expires (null once it is no longer pending) */
  expiresAt: string | null;
  appliedAt: string | null;
  recordSignature: Record<string, unknown> | null;
  rollout: RolloutView | null;
}

export type PromotionDetail = PromotionRecord & { trace: unknown[]; verdicts: CanaryVerdictView[] };

export async function getPromotion(d: PromotionDeps, promotionId: string): Promise<PromotionDetail | undefined> {
  const p = await findPromotion(d.database.db, promotionId);
  if (!p) return undefined;
  const trace = await d.rollout.trace(promotionId);
  const record = await toRecord(d, p);
  return { ...record, verdicts: await d.rollout.verdicts(promotionId, record.canary), trace };
}

export async function promotionHistory(d: PromotionDeps, artifactId: string): Promise<PromotionRecord[]> {
  const rows = await promotionsOfArtifact(d.database.db, artifactId);
  return Promise.all(rows.map((r) => toRecord(d, r)));
}

/** The artifact's promotions as lineage lists them, oldest first, with the status as stored. */
export async function promotionSummaries(
  d: PromotionDeps,
  artifactId: string,
): Promise<{ promotionId: string; targetEnv: string; status: string; createdAt: string; appliedAt: string | null }[]> {
  const rows = await promotionsOfArtifact(d.database.db, artifactId);
  return rows.map((p) => ({
    promotionId: p.promotionId,
    targetEnv: p.targetEnv,
    status: p.status,
    createdAt: p.createdAt.toISOString(),
    appliedAt: p.appliedAt?.toISOString() ?? null,
  }));
}

/**
 * A promotion as its request just stored it, without reading it again: no approvals yet, no
 * step of its rollout recorded by the request (the rollout runs on, and `GET /v1/promotions/{id}` shows it).
 */
export function requestedDetail(d: PromotionDeps, p: StoredPromotion): PromotionDetail {
  return { ...recordOf(d, p, [], undefined, d.clock.now()), trace: [], verdicts: [] };
}

async function toRecord(d: PromotionDeps, p: StoredPromotion): Promise<PromotionRecord> {
  const now = d.clock.now();
  const rows = await approvalsOf(d.database.db, p.promotionId, { byTime: true });
  const pending = p.status === 'pending_multisig';
  // past its expiry a pending promotion is expired, whether or not anything has touched it since
  const expired = expiredPending(d, p, now);
  const counted = pending && !expired && rows.length > 0 ? await quorumNow(d, p, now) : undefined;
  return recordOf(d, p, rows, counted, now);
}

function recordOf(
  d: PromotionDeps,
  p: StoredPromotion,
  rows: readonly StoredApproval[],
  counted: Awaited<ReturnType<typeof quorumNow>> | undefined,
  now: Date,
): PromotionRecord {
  const pending = p.status === 'pending_multisig';
  const expired = expiredPending(d, p, now);
  const approvals: PromotionRecord['approvals'] = [];
  for (const a of rows) {
    const item: PromotionRecord['approvals'][number] = { approverId: a.approverId, at: a.createdAt.toISOString(), expiresAt: a.expiresAt };
    if (counted) {
      item.valid = counted.valid.has(a.approverId);
      const reason = counted.why.get(a.approverId);
      if (reason) item.reason = reason;
    }
    approvals.push(item);
  }
  return {
    promotionId: p.promotionId,
    kind: p.kind,
    artifactId: p.artifactId,
    modelName: p.modelName,
    targetEnv: p.targetEnv,
    manifestSignatureId: p.manifestSignatureId,
    status: expired ? 'expired' : (p.status as PromotionStatus),
    requestedBy: p.requestedBy,
    reason: p.reason,
    canary: p.canary,
    policyDecision: p.policyDecision,
    threshold: p.threshold,
    approvals,
    createdAt: p.createdAt.toISOString(),
    expiresAt: pending ? pendingExpiresAt(p.createdAt, pendingTtlMs(d)).toISOString() : null,
    appliedAt: p.appliedAt?.toISOString() ?? null,
    recordSignature: p.recordSignature,
    rollout: presentRollout(p.rolloutState, p.canary, p.status, p.kind),
  };
}

/** The quorum of a stored promotion as an approval computes it (for the view). */
async function quorumNow(d: PromotionDeps, p: StoredPromotion, now: Date) {
  const artifact = await d.registry.get(p.artifactId);
  const subject = {
    promotionId: p.promotionId,
    artifactId: p.artifactId,
    manifestSha256: artifact?.manifestSha256 ?? '',
    targetEnv: p.targetEnv,
  };
  return quorum(d, d.database.db, subject, now);
}
