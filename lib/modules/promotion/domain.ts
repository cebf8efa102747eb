/**
 * The promotion's rules, pure: its statuses, what a policy decision makes of a request (status,
 * approval threshold, canary), when a pending promotion expires, and which request field an
 * approval refusal is about.
 */
import * as z from 'zod';
import { AegisError } from '../../kernel/errors.js';
import type { PolicyDecision, TargetEnv } from '../../kernel/policy.js';
import { statementBytes } from '../../kernel/signatures.js';
import { DEFAULT_BLUE_GREEN, DEFAULT_CANARY, DEFAULT_SHADOW, STRATEGIES, type CanaryConfig } from '../rollout/domain.js';

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
    minLabelled: z.number().int().min(1).max(10_000_000).optional(),
  })
  .strict();

/** A shadow's settings over the defaults (strategy `shadow`). */
export const ShadowOverrides = z
  .object({
    percent: z.number().int().min(1).max(100).optional(),
    windows: z.number().int().min(1).max(20).optional(),
    minAgreement: z.number().min(0).max(1).optional(),
    then: z.enum(['canary', 'promote']).optional(),
  })
  .strict();

/** A blue-green switch's settings over the defaults (strategy `blue-green`). */
export const BlueGreenOverrides = z
  .object({
    holdSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 86400)
      .optional(),
    warmUpRequests: z.number().int().min(1).max(1000).optional(),
  })
  .strict();

/** How a promotion meets traffic, as requested: the strategy and its settings (a rollback has none). */
export const RolloutRequest = z.object({
  strategy: z.enum(STRATEGIES).optional(),
  shadow: ShadowOverrides.optional(),
  blueGreen: BlueGreenOverrides.optional(),
});
export type RolloutRequest = z.infer<typeof RolloutRequest>;

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

/**
 * The rollout a request runs: a manual rollback sets the route at once (staging's no-canary
 * defaults); a promotion runs its strategy (canary when none is named: stored without a
 * `strategy`, as before strategies existed) with the strategy's settings over the defaults.
 *
 * @throws AegisError VALIDATION_FAILED naming `shadow` or `blueGreen` when they come without their strategy.
 */
export function canaryFor(
  kind: PromotionKind,
  targetEnv: TargetEnv,
  overrides: z.infer<typeof CanaryOverrides> | undefined,
  rollout: RolloutRequest = {},
): CanaryConfig {
  if (kind === 'rollback') return { ...DEFAULT_CANARY.staging };
  const strategy = rollout.strategy ?? 'canary';
  if (rollout.shadow && strategy !== 'shadow')
    throw new AegisError('VALIDATION_FAILED', `shadow: settings of strategy shadow, but the strategy is ${strategy}`, { field: 'shadow' });
  if (rollout.blueGreen && strategy !== 'blue-green')
    throw new AegisError('VALIDATION_FAILED', `blueGreen: settings of strategy blue-green, but the strategy is ${strategy}`, {
      field: 'blueGreen',
    });
  const config: CanaryConfig = { ...DEFAULT_CANARY[targetEnv], ...(overrides ?? {}) };
  if (strategy === 'shadow') return { ...config, strategy, shadow: { ...DEFAULT_SHADOW, ...rollout.shadow } };
  if (strategy === 'blue-green') return { ...config, strategy, blueGreen: { ...DEFAULT_BLUE_GREEN, ...rollout.blueGreen } };
  return config;
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
