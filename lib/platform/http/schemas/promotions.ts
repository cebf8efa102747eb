import * as z from 'zod';
import { Uuid } from '../../../kernel/names.js';
import { PolicyDecisionSchema, TARGET_ENVS } from '../../../kernel/policy.js';
import { BlueGreenOverrides, CanaryOverrides, PROMOTION_STATUSES, ShadowOverrides } from '../../../modules/promotion/service.js';
import { STRATEGIES } from '../../../modules/rollout/domain.js';

/** Promotions and rollbacks: requests, approvals, cancellation, and the promotion record with its rollout. */

const TargetEnvSchema = z.enum(TARGET_ENVS);
export const PromoteBody = z
  .object({
    targetEnv: TargetEnvSchema,
    canary: CanaryOverrides.optional(),
    strategy: z.enum(STRATEGIES).optional().describe('how the candidate meets traffic; canary when absent'),
    shadow: ShadowOverrides.optional().describe(
      'strategy shadow: share mirrored, passing windows, least agreement, then canary or promote',
    ),
    blueGreen: BlueGreenOverrides.optional().describe('strategy blue-green: hold period of blue after the switch, warm-up requests'),
    reason: z.string().min(1).max(2000),
  })
  .strict();
/** What a client sends to promote (the console's promote form). */
export type PromoteRequest = z.input<typeof PromoteBody>;
export const RollbackBody = z
  .object({
    targetEnv: TargetEnvSchema,
    toArtifactId: Uuid,
    reason: z.string().min(1).max(2000),
    critical: z.boolean().default(false),
  })
  .strict();
export const PromotionParams = z.object({ promotionId: Uuid }).strict();
export const ApprovalBody = z
  .object({
    approverId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be a key id'),
    signature: z.base64().max(200),
    expiresAt: z.iso.datetime({ offset: true }),
  })
  .strict();
export const CancelBody = z.object({ reason: z.string().min(1).max(2000) }).strict();
export const AbortBody = z.object({ reason: z.string().min(1).max(2000).describe('why (audited, and the rollback records it)') }).strict();

const CanaryConfigSchema = z.object({
  percent: z.number().describe('first canary percent'),
  windowSeconds: z.number(),
  steps: z.number().int().describe('canary stages before full promotion; 0 promotes at once'),
  rollbackThreshold: z.number(),
  maxInconclusive: z.number().int(),
  minRequests: z.number().int().optional().describe('absent in records written before it existed: 200'),
  minLabelled: z
    .number()
    .int()
    .optional()
    .describe('labelled predictions each arm needs: given, every canary window must be judged on quality (else inconclusive)'),
  strategy: z
    .enum(STRATEGIES)
    .optional()
    .describe('how the candidate meets traffic; absent (records before strategies, or none asked): canary'),
  shadow: z
    .object({
      percent: z.number().int().describe('share of requests mirrored to the candidate'),
      windows: z.number().int().describe('passing shadow windows before it moves on'),
      minAgreement: z.number().describe('least share of mirrored answers equal to the stable one'),
      then: z.enum(['canary', 'promote']).describe('after the shadow: the canary stages, or 100 % at once'),
    })
    .optional()
    .describe('strategy shadow: its settings, defaults applied'),
  blueGreen: z
    .object({
      holdSeconds: z.number().int().describe('seconds blue stays routable after the switch'),
      warmUpRequests: z.number().int().describe('warm-up requests green must all answer before the switch'),
    })
    .optional()
    .describe('strategy blue-green: its settings, defaults applied'),
});

const RolloutSchema = z.object({
  stage: z.number().int().nullable().describe('the canary stage (0-based); null when there is none'),
  stageName: z.string(),
  percent: z.number(),
  inconclusive: z.number().int(),
  windowSeconds: z.number(),
  stageStartedAt: z.string().optional(),
  canaryStartedAt: z.string().optional(),
  reason: z.string().optional().describe('why it was rolled back: the failed check, or insufficient-traffic'),
  phase: z
    .enum(['shadow', 'warming', 'hold'])
    .optional()
    .describe('shadow (mirrored, judged on agreement), warming (blue-green before the switch), hold (after it); absent: canary stages'),
  shadowPassed: z.number().int().optional().describe('passing shadow windows so far'),
});

const TraceStepSchema = z.object({
  step: z.number().int(),
  state: z.string(),
  enteredAt: z.string(),
  finishedAt: z.string().nullable(),
  input: z.unknown(),
  output: z.unknown(),
  error: z.string().nullable(),
  runner: z.string().nullable(),
  leaseToken: z.number().int().nullable(),
});

const Arms = z.object({ stable: z.number(), canary: z.number() });
const Percentiles = z.object({ n: z.number().int(), p95: z.number().nullable(), p99: z.number().nullable() });
const RateTest = { test: z.enum(['fisher', 'z']), z: z.number().nullable(), pValue: z.number() };

/** The canary judge's numbers for one window (`CanaryJudgement` in lib/kernel/canary-judge.ts). */
const JudgementSchema = z.object({
  verdict: z.enum(['pass', 'fail', 'inconclusive']),
  reason: z.string(),
  failed: z.object({ metric: z.string(), detail: z.string() }).optional(),
  reasons: z.array(z.string()),
  significance: z.object({ family: z.number(), guardrail: z.number(), comparisons: z.number().int(), perComparison: z.number() }),
  metrics: z.object({
    requests: Arms,
    errorRate: z.object({ stable: z.number(), canary: z.number(), difference: z.number(), ...RateTest }),
    latency: z.object({
      source: z.enum(['samples', 'histogram']),
      stable: Percentiles,
      canary: Percentiles,
      percentileMethod: z.literal('linear'),
      u: z.number(),
      z: z.number(),
      pValue: z.number(),
    }),
    quality: z
      .object({ stable: z.number(), canary: z.number(), labelled: Arms, relativeDrop: z.number(), ...RateTest, judged: z.boolean() })
      .optional(),
    guardrails: z.object({
      errorCeiling: z.object({ ceiling: z.number(), canary: z.number(), pValue: z.number(), tripped: z.boolean() }),
      sampleRatio: z.object({
        expectedShare: z.number().nullable(),
        observedShare: z.number().nullable(),
        checked: z.boolean(),
        chiSquare: z.number(),
        pValue: z.number(),
        tripped: z.boolean(),
      }),
    }),
  }),
});

const VerdictSchema = z.object({
  seq: z.number().int(),
  stage: z.number().int(),
  stageName: z.string(),
  percent: z.number(),
  from: z.string(),
  to: z.string(),
  verdict: z.enum(['pass', 'fail', 'inconclusive']),
  reason: z.string().describe('pass, insufficient-traffic, or the check that failed'),
  next: z.string().describe('what the rollout did next: step-up, promote, wait, rollback'),
  requests: Arms,
  errors: Arms.nullable(),
  detail: z.string(),
  judgement: JudgementSchema.nullable().describe('null from a scripted judge'),
  judgedAt: z.string(),
  phase: z.literal('shadow').optional().describe('shadow: a window of mirrored answers (judged on agreement too); absent: a canary stage'),
  agreement: z
    .object({ compared: z.number().int(), agreed: z.number().int(), rate: z.number().nullable().describe('null: none compared') })
    .optional()
    .describe('a shadow window: mirrored answers compared with the stable ones and how many agreed (rate = agreed / compared)'),
});

const PromotionSchema = z.object({
  promotionId: z.string(),
  kind: z.enum(['promote', 'rollback']),
  artifactId: z.string(),
  modelName: z.string(),
  targetEnv: z.string(),
  manifestSignatureId: z.string(),
  status: z.enum(PROMOTION_STATUSES),
  requestedBy: z.string(),
  reason: z.string(),
  canary: CanaryConfigSchema,
  policyDecision: PolicyDecisionSchema,
  threshold: z.number().int().nullable(),
  approvals: z.array(
    z.object({
      approverId: z.string(),
      at: z.string(),
      expiresAt: z.string(),
      valid: z.boolean().optional().describe('pending promotions: whether the approval counts now (statement unexpired, key unrevoked)'),
      reason: z.string().optional(),
    }),
  ),
  createdAt: z.string(),
  expiresAt: z.string().nullable().describe('when a pending multisig promotion expires'),
  appliedAt: z.string().nullable(),
  recordSignature: z
    .object({ signerId: z.string(), alg: z.string(), ts: z.string(), signature: z.string() })
    .nullable()
    .describe("the manifest key's signature over the record"),
  rollout: RolloutSchema.nullable(),
});
export type PromotionSummaryReply = z.output<typeof PromotionSchema>;
export const PromotionReply = PromotionSchema.extend({
  trace: z.array(TraceStepSchema).describe("the rollout's steps, oldest first"),
  /** every judged canary window with its numbers (issue 10) */
  verdicts: z.array(VerdictSchema).describe('every judged canary window with its numbers, oldest first'),
  warnings: z
    .array(z.string())
    .optional()
    .describe('promote only: what the caller should know but did not refuse the promotion, e.g. that serving cannot load the artifact'),
});
export type PromotionReply = z.output<typeof PromotionReply>;
export type VerdictReply = PromotionReply['verdicts'][number];
export const PromotionsReply = z.object({ items: z.array(PromotionSchema) });
export type PromotionsReply = z.output<typeof PromotionsReply>;
