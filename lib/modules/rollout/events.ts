/** The audit payload the rollout writes for each state-machine step (RolloutService). */
import * as z from 'zod';
import { Int, Iso, Text, type EventCatalogue } from '../../platform/audit/catalogue.js';

export const STEP_ACTIONS = ['start', 'evaluate', 'stepUp', 'warmUp', 'promoteFully', 'rollback', 'fail'] as const;
export const PromotionStepPayload = z.object({
  action: z.enum(STEP_ACTIONS),
  stage: Int.min(-1),
  percent: Int.min(0).max(100),
  inconclusive: Int.nonnegative(),
  windowSeconds: Int.nonnegative(),
  route: z.strictObject({
    canary_artifact_id: Text.optional(),
    canary_percent: Int.min(0).max(100).optional(),
    // the shadow's route (issue 19): set at a shadow's start, cleared when it hands over to the canary
    shadow_artifact_id: Text.nullable().optional(),
    shadow_percent: Int.min(0).max(100).optional(),
  }),
  verdict: z.string().optional(),
  detail: z.string().optional(),
  next: z.string().optional(),
  // the rollout state's stage timing and rollback reason, and the judged window (issue 10); absent in older events
  stageStartedAt: Iso.optional(),
  canaryStartedAt: Iso.optional(),
  reason: z.string().optional(),
  // a strategy's phase and passing shadow windows (issue 19); absent in a canary's events
  phase: z.enum(['shadow', 'warming', 'hold']).optional(),
  shadowPassed: Int.nonnegative().optional(),
  // a blue-green warm-up's result
  warmUp: z
    .object({ ok: z.boolean(), answered: Int.nonnegative(), requests: Int.nonnegative(), inputs: z.enum(['replayed', 'synthetic']) })
    .optional(),
  window: z
    .object({
      seq: Int.positive(),
      stage: Int.min(-1),
      percent: Int.min(0).max(100),
      from: Iso,
      to: Iso,
      verdict: z.enum(['pass', 'fail', 'inconclusive']),
      reason: z.string(),
      next: z.string(),
      requests: z.object({ stable: Int.nonnegative(), canary: Int.nonnegative() }),
      errors: z.object({ stable: Int.nonnegative(), canary: Int.nonnegative() }).nullable(),
      detail: z.string(),
      judgement: z.record(z.string(), z.unknown()).nullable(),
      judgedAt: Iso,
      // a shadow window's phase and agreement with the stable answers (issue 19)
      phase: z.literal('shadow').optional(),
      agreement: z.object({ compared: Int.nonnegative(), agreed: Int.nonnegative() }).optional(),
    })
    .optional(),
});
export type PromotionStep = z.infer<typeof PromotionStepPayload>;

/** An environment drained (subject `route:<model>/<env>`): nothing serves there until a promotion applies; a quarantine does it when no earlier artifact can take over. */
export const RouteDrainedPayload = z.object({ modelName: Text, env: Text, artifactId: Text, reason: Text, at: Iso });

/** The audit subject of a model's route in an environment. */
export const routeSubject = (modelName: string, env: string) => `route:${modelName}/${env}`;

export const ROLLOUT_EVENTS: EventCatalogue = {
  'promotion.step': { schema: PromotionStepPayload, restore: { restoredBy: 'the rollout replay (lib/modules/rollout/restore.ts)' } },
  'route.drained': { schema: RouteDrainedPayload, restore: { restoredBy: 'the rollout replay (lib/modules/rollout/restore.ts)' } },
};
