/** The audit payloads the quarantine module writes (QuarantineService); subject `artifact:<artifactId>`. */
import * as z from 'zod';
import { POLICY_DECISIONS } from '../../kernel/policy.js';
import { SIGNATURE_ALGS } from '../../kernel/signatures.js';
import { Int, Iso, Text, type EventCatalogue } from '../../platform/audit/catalogue.js';
import { QUARANTINE_ACTIONS, QUARANTINE_STATUSES } from './domain.js';

export const QuarantineRequestedPayload = z.object({
  requestId: Text,
  action: z.enum(QUARANTINE_ACTIONS),
  artifactId: Text,
  modelName: Text,
  status: z.enum(QUARANTINE_STATUSES),
  reason: Text,
  policyDecision: z.looseObject({ decision: z.enum(POLICY_DECISIONS), rules: z.array(z.string()), reasons: z.array(z.string()) }),
  threshold: Int.positive().nullable(),
  createdAt: Iso,
});
export const QuarantineApprovalAcceptedPayload = z.object({
  requestId: Text,
  approverId: Text,
  signature: Text,
  expiresAt: Iso,
  count: Int.positive(),
  threshold: Int.positive().nullable(),
  counted: z.array(Text),
  at: Iso,
  renews: z.boolean().optional(),
});
export const QuarantineApprovalRefusedPayload = z.object({
  requestId: Text,
  approverId: z.string(),
  refusal: z.string(),
  reason: z.string(),
  count: Int.nonnegative(),
  threshold: Int.positive().nullable(),
});
const RecordSignature = z.object({ signerId: Text, alg: z.enum(SIGNATURE_ALGS), ts: Iso, signature: Text });
export const QuarantineAppliedPayload = z.object({
  requestId: Text,
  action: z.enum(QUARANTINE_ACTIONS),
  artifactId: Text,
  modelName: Text,
  reason: Text,
  requestedBy: Text,
  appliedAt: Iso,
  recordSignature: RecordSignature,
});
const Effect = z.object({
  kind: z.enum(['promotion-cancelled', 'canary-rolled-back', 'stable-rolled-back', 'drained', 'not-rolled-back']),
  env: Text,
  promotionId: Text.optional(),
  toArtifactId: Text.optional(),
  detail: z.string(),
});
export const QuarantineEnforcedPayload = z.object({ requestId: Text, artifactId: Text, effects: z.array(Effect) });

const RESTORE = { restoredBy: 'the quarantine restore (lib/modules/quarantine/restore.ts)' } as const;

export const QUARANTINE_EVENTS: EventCatalogue = {
  'quarantine.requested': { schema: QuarantineRequestedPayload, restore: RESTORE },
  'quarantine.approval_accepted': { schema: QuarantineApprovalAcceptedPayload, restore: RESTORE },
  'quarantine.approval_refused': {
    schema: QuarantineApprovalRefusedPayload,
    restore: { notRestored: 'a refused approval changes no state: it stays in the restored audit log only' },
  },
  'quarantine.applied': { schema: QuarantineAppliedPayload, restore: RESTORE },
  'quarantine.enforced': { schema: QuarantineEnforcedPayload, restore: RESTORE },
};
