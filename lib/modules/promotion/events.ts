/** The audit payloads the promotion module writes (PromotionService; the end events also RolloutService). */
import * as z from 'zod';
import { POLICY_DECISIONS } from '../../kernel/policy.js';
import { SIGNATURE_ALGS } from '../../kernel/signatures.js';
import { Int, Iso, Text, type EventCatalogue } from '../../platform/audit/catalogue.js';

const RecordSignature = z.looseObject({ signerId: Text, alg: z.enum(SIGNATURE_ALGS), ts: Iso, signature: Text });
const PromotionRecordBody = z.object({
  promotionId: Text,
  kind: z.enum(['promote', 'rollback']),
  artifactId: Text,
  targetEnv: Text,
  manifestSignatureId: Text,
});
const STATUS_OF_DECISION = { deny: 'denied', require_multisig: 'pending_multisig', allow: 'rolling_out' } as const;
export const PromotionRequestedPayload = PromotionRecordBody.extend({
  status: z.enum(['denied', 'pending_multisig', 'rolling_out']),
  policyDecision: z.looseObject({ decision: z.enum(POLICY_DECISIONS), rules: z.array(z.string()), reasons: z.array(z.string()) }),
  createdAt: Iso,
  reason: z.string(),
  modelName: Text,
  canary: z.looseObject({
    percent: Int.min(1).max(100),
    windowSeconds: Int.nonnegative(),
    steps: Int.nonnegative(),
    rollbackThreshold: z.number().min(0).max(1),
    maxInconclusive: Int.nonnegative(),
  }),
  threshold: Int.positive().nullable(),
  recordSignature: RecordSignature,
})
  .refine((p) => STATUS_OF_DECISION[p.policyDecision.decision] === p.status, 'status does not follow from the policy decision')
  .refine((p) => (p.threshold !== null) === (p.status === 'pending_multisig'), 'a threshold goes with pending_multisig, and only with it');
// `counted` (the approvers counting after this one) and `renews` were added with quorum-at-transition-time; older events lack them.
export const PromotionApprovalAcceptedPayload = z.object({
  approverId: Text,
  signature: Text,
  count: Int.positive(),
  threshold: Int.positive().nullable(),
  expiresAt: Iso,
  at: Iso,
  counted: z.array(Text).optional(),
  renews: z.boolean().optional(),
});
export const PromotionApprovedPayload = z.object({ approvers: z.array(Text).min(1), threshold: Int.positive().nullable() });
export const PROMOTION_END_EVENTS = {
  'promotion.applied': 'succeeded',
  'promotion.rolled_back': 'rolled_back',
  'promotion.failed': 'failed',
} as const;
export const PromotionEndedPayload = PromotionRecordBody.extend({
  status: z.enum(['succeeded', 'rolled_back', 'failed']),
  appliedAt: Iso.nullable(),
  recordSignature: RecordSignature,
  /** why a canary rolled back or failed (the rollout state's reason) */
  reason: z.string().optional(),
  error: z.string().optional(),
}).refine((p) => (p.appliedAt !== null) === (p.status === 'succeeded'), 'appliedAt goes with succeeded, and only with it');
/** A pending multisig promotion cancelled (by its requester, an admin, or a critical rollback) or expired. */
export const PROMOTION_CLOSE_EVENTS = { 'promotion.cancelled': 'cancelled', 'promotion.expired': 'expired' } as const;
export const PromotionClosedPayload = z.object({
  promotionId: Text,
  kind: z.enum(['promote', 'rollback']),
  artifactId: Text,
  // modelName, createdAt and expiresAt have always been written; the replay reads them from promotion.requested
  modelName: Text.optional(),
  targetEnv: Text,
  status: z.enum(['cancelled', 'expired']),
  createdAt: Iso.optional(),
  expiresAt: Iso.optional(),
  at: Iso,
  /** the requester's or an admin's reason for a cancel */
  reason: z.string().optional(),
  /** the critical rollback that cancelled a pending promotion */
  supersededBy: Text.optional(),
});
/** A refused approval: recorded for the audit trail; it changes no state. */
export const PromotionApprovalRefusedPayload = z.object({
  approverId: z.string(),
  refusal: z.string().optional(),
  reason: z.string().optional(),
  count: Int.nonnegative(),
  threshold: Int.positive().nullable(),
  tampered: z.array(Text).optional(),
});
/** A rolling-out promotion's abort requested by a principal (the rollback it starts ends the promotion). */
export const PromotionAbortRequestedPayload = z.object({
  promotionId: Text,
  artifactId: Text,
  modelName: Text,
  targetEnv: Text,
  strategy: z.enum(['canary', 'shadow', 'blue-green']),
  reason: Text,
  /** the rollback execution started to take the rollout over */
  execution: Text,
  at: Iso,
});
export type PromotionRequested = z.infer<typeof PromotionRequestedPayload>;
export type PromotionEnded = z.infer<typeof PromotionEndedPayload>;

const REPLAY = { restoredBy: 'the promotion replay (lib/modules/promotion/restore.ts)' } as const;

export const PROMOTION_EVENTS: EventCatalogue = {
  'promotion.requested': { schema: PromotionRequestedPayload, restore: REPLAY },
  'promotion.approval_accepted': { schema: PromotionApprovalAcceptedPayload, restore: REPLAY },
  'promotion.approval_refused': {
    schema: PromotionApprovalRefusedPayload,
    restore: { notRestored: 'a refused approval changes no state: it stays in the restored audit log only' },
  },
  'promotion.approved': { schema: PromotionApprovedPayload, restore: REPLAY },
  'promotion.applied': { schema: PromotionEndedPayload, restore: REPLAY },
  'promotion.rolled_back': { schema: PromotionEndedPayload, restore: REPLAY },
  'promotion.failed': { schema: PromotionEndedPayload, restore: REPLAY },
  'promotion.cancelled': { schema: PromotionClosedPayload, restore: REPLAY },
  'promotion.expired': { schema: PromotionClosedPayload, restore: REPLAY },
  'promotion.abort_requested': {
    schema: PromotionAbortRequestedPayload,
    restore: { notRestored: 'it changes no state itself: the rollback it starts ends the promotion with promotion.rolled_back' },
  },
};
