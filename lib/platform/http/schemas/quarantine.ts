import * as z from 'zod';
import { Uuid } from '../../../kernel/names.js';

/** Quarantine: requests to quarantine or release an artifact, their approvals, and an artifact's quarantine state. */

export const QuarantineBody = z.object({ reason: z.string().min(1).max(2000) }).strict();
export const QuarantineRequestParams = z.object({ requestId: Uuid }).strict();

const QuarantineState = z.object({
  requestId: z.string(),
  artifactId: z.string(),
  reason: z.string(),
  quarantinedBy: z.string(),
  quarantinedAt: z.string(),
});

const QuarantineEffect = z.object({
  kind: z
    .enum(['promotion-cancelled', 'canary-rolled-back', 'stable-rolled-back', 'drained', 'not-rolled-back'])
    .describe('drained: nothing serves the model in that environment now (no earlier artifact could take over)'),
  env: z.string(),
  promotionId: z.string().optional().describe('the promotion cancelled or rolled back, or the rollback started'),
  toArtifactId: z.string().optional(),
  detail: z.string(),
});

export const QuarantineReply = z.object({
  artifactId: z.string(),
  modelName: z.string(),
  quarantined: z.boolean(),
  quarantine: QuarantineState.nullable().describe('the quarantine in force; null when there is none'),
  requests: z.array(
    z.object({
      requestId: z.string(),
      action: z.enum(['quarantine', 'release']),
      status: z.enum(['pending_multisig', 'applied']),
      reason: z.string(),
      requestedBy: z.string(),
      createdAt: z.string(),
      appliedAt: z.string().nullable(),
      threshold: z.number().int().nullable(),
      policyDecision: z.object({ decision: z.string(), rules: z.array(z.string()), reasons: z.array(z.string()) }),
      approvals: z.array(z.object({ approverId: z.string(), expiresAt: z.string(), at: z.string() })),
      recordSignature: z
        .object({ signerId: z.string(), alg: z.string(), ts: z.string(), signature: z.string() })
        .nullable()
        .describe('the applied record, signed with the manifest key'),
      effects: z.array(QuarantineEffect).nullable().describe('what enforcing an applied quarantine did'),
    }),
  ),
});
export type QuarantineReply = z.output<typeof QuarantineReply>;
