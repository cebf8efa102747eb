/**
 * The promotion's rules, pure: its statuses, what a policy decision makes of a request (status,
 * approval threshold, canary), when a pending promotion expires, and which request field an
 * approval refusal is about.
 */
import * as z from 'zod';
import { AegisError } from '../../kernel/errors.js';
import type { PolicyDecision, TargetEnv } from '../../kernel/policy.js';
import { statementBytes } from '../../kernel/signatures.js';
import { DEFAULT_CANARY, type CanaryConfig } from '../rollout/domain.js';

export const CanaryOverrides = z
  .object({
    percent: z.number().int().min(1).max(100).optional(),
    windowSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 86400)
      .optional(),
    steps: z.number().int().min(0).max(20).optional(),
    rollbackThreshold: z.number().min(0).max(1).optional(),
    maxInconclusive: z.number().int().min(0).max(50).optional(),
    minRequests: z.number().int().min(1).max(10_000_000).optional(),
  })
  .strict();

export const PROMOTION_STATUSES = [
  'pending_multisig',
  'rolling_out',
  'succeeded',
  'rolled_back',
  'failed',
  'denied',
  'cancelled',
  'expired',
] as const;
export type PromotionStatus = (typeof PROMOTION_STATUSES)[number];

export type PromotionKind = 'promote' | 'rollback';

/** How long a multisig promotion waits for its approvals by default (AEGIS_PENDING_PROMOTION_TTL_SECONDS). */
export const DEFAULT_PENDING_PROMOTION_TTL_SECONDS = 7 * 86_400;

/** Pending promotions one expiry run closes at most: each is a transaction and a signed audit event. */
export const DEFAULT_PENDING_EXPIRY_BATCH = 200;

/** Approvals a multisig promotion needs when the policy's decision names no threshold. */
export const DEFAULT_MULTISIG_THRESHOLD = 3;

/** The status a request starts in: denied, waiting for approvals, or rolling out at once. */
export function requestedStatus(decision: PolicyDecision): 'denied' | 'pending_multisig' | 'rolling_out' {
  return decision.decision === 'deny' ? 'denied' : decision.decision === 'require_multisig' ? 'pending_multisig' : 'rolling_out';
}

/** The approvals a request needs (null: none, it is not multisig). */
export function multisigThreshold(decision: PolicyDecision): number | null {
  return decision.decision === 'require_multisig' ? (decision.threshold ?? DEFAULT_MULTISIG_THRESHOLD) : null;
}

/** The canary a request runs: a manual rollback sets the route at once (staging's no-canary defaults). */
export function canaryFor(kind: PromotionKind, targetEnv: TargetEnv, overrides: z.infer<typeof CanaryOverrides> | undefined): CanaryConfig {
  return kind === 'rollback' ? { ...DEFAULT_CANARY.staging } : { ...DEFAULT_CANARY[targetEnv], ...(overrides ?? {}) };
}

/** One promotion per model and environment in flight: the key the unique index holds. */
export const inFlightKey = (modelName: string, targetEnv: string) => `${modelName}:${targetEnv}`;

/** When a pending promotion created at `createdAt` expires, after `ttlMs`. */
export const pendingExpiresAt = (createdAt: Date, ttlMs: number): Date => new Date(createdAt.getTime() + ttlMs);

/** Whether a pending promotion created at `createdAt` has expired at `now`. */
export const pendingExpired = (createdAt: Date, now: Date, ttlMs: number): boolean => now.getTime() >= createdAt.getTime() + ttlMs;

export function expiredError(promotionId: string, ttlMs: number): AegisError {
  return new AegisError(
    'PROMOTION_EXPIRED',
    `promotion ${promotionId} expired waiting for approvals (after ${ttlMs / 1000} s); request it again`,
    { field: 'promotionId' },
  );
}

/** The finite numeric metrics of a manifest: what the policy compares. */
export const numericMetrics = (m: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'number' && Number.isFinite(v))) as Record<string, number>;

/**
 * The bytes a promotion record's manifest-key signature covers (the record as requested, or as
 * its rollout ended): signed by the service, checked by the gates.
 */
export const promotionRecordBytes = (record: Record<string, unknown>): Uint8Array =>
  statementBytes({ type: 'aegis.promotion-record/v1', ...record });
