import * as z from 'zod';
import { SERVING_LIMITS, REQUEST_ID_PATTERN } from '../../../modules/serving/domain.js';
import { FEEDBACK_MAX_ITEMS } from '../../../modules/serving/feedback.js';

/**
 * `POST /v1/serving/{model}/{env}/predict`. Each row of `inputs` is checked against the served
 * model's features after routing (the field at fault named: `inputs[3].age`), so here only
 * the batch's shape.
 */
export const PredictBody = z
  .object({
    requestId: z
      .string()
      .regex(REQUEST_ID_PATTERN, 'must be 1-128 of A-Z a-z 0-9 . _ : @ -, starting with a letter or digit')
      .optional()
      .describe('the serving event key (else X-Request-Id, else generated); a retried request id is counted once'),
    subjectId: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe('routing key for sticky assignment: the same subject gets the same variant for the whole canary'),
    inputs: z
      .array(
        // checked against the served model's features after routing, so a bad row names its field (`inputs[3].age`)
        z.unknown().describe('a row: numbers in the training column order (array), or an object of numbers keyed by feature name'),
      )
      .min(1, 'at least one row is required')
      .max(SERVING_LIMITS.maxRows, `at most ${SERVING_LIMITS.maxRows} rows per request`),
  })
  .strict();

export const PredictionReply = z.object({
  label: z.string().optional().describe('the predicted class (classifiers)'),
  probabilities: z.record(z.string(), z.number()).optional().describe('per-class probabilities (classifiers)'),
  value: z.number().optional().describe('the predicted value (regressors)'),
});

export const PredictReply = z.object({
  requestId: z.string(),
  model: z.string(),
  env: z.string(),
  variant: z.enum(['stable', 'canary']),
  artifactId: z.string().describe('the signed artifact that made these predictions (also X-Aegis-Artifact-Id)'),
  manifestSignatureId: z.string().describe('the manifest signature it verified with (also X-Aegis-Manifest-Signature-Id)'),
  predictions: z.array(PredictionReply).describe('one per input row, in order'),
});
export type PredictReply = z.output<typeof PredictReply>;

/**
 * `POST /v1/serving/{model}/{env}/feedback`: ground-truth labels of served requests. A label
 * is compared with the prediction's `label` (classifiers, single-row requests); numbers and
 * booleans are taken as their text (`1` is `"1"`).
 */
export const FeedbackBody = z
  .object({
    items: z
      .array(
        z
          .object({
            requestId: z
              .string()
              .regex(REQUEST_ID_PATTERN, 'must be 1-128 of A-Z a-z 0-9 . _ : @ -, starting with a letter or digit')
              .describe('the served request (its requestId, X-Request-Id)'),
            label: z
              .union([z.string().min(1).max(256), z.number().finite(), z.boolean()])
              .transform(String)
              .describe("the true class of the request's row"),
          })
          .strict(),
      )
      .min(1, 'at least one item is required')
      .max(FEEDBACK_MAX_ITEMS, `at most ${FEEDBACK_MAX_ITEMS} items per request`),
  })
  .strict();

export const FeedbackReply = z.object({
  model: z.string(),
  env: z.string(),
  accepted: z.number().int().describe('labels stored by this call'),
  unchanged: z.number().int().describe('labels already stored with the same value (a retry): no-ops'),
});

export const ServingStatusQuery = z
  .object({
    windowMinutes: z.coerce
      .number()
      .int()
      .min(1)
      .max(60 * 24 * 30)
      .default(60)
      .describe('the window the counts cover, ending now'),
    points: z.coerce
      .number()
      .int()
      .min(0)
      .max(240)
      .default(0)
      .describe('cut the window into this many equal slots and return them as `series` (0: no series)'),
  })
  .strict();

const VariantStatusReply = z.object({
  artifactId: z.string().nullable().describe('the artifact of the variant (null: no such variant)'),
  requests: z.number().int(),
  errors: z.number().int(),
  errorRate: z.number().nullable(),
  latencyMs: z
    .object({ p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() })
    .describe('percentiles of the warm requests (log-bucketed, within about 1 %)'),
  quality: z
    .object({ correct: z.number().int(), labelled: z.number().int(), rate: z.number() })
    .nullable()
    .describe('labelled single-row predictions and how many matched their label (null: no labels)'),
});

const SeriesVariantReply = z.object({
  requests: z.number().int(),
  errors: z.number().int(),
  errorRate: z.number().nullable(),
  latencyMs: z.object({ p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() }),
  quality: z.number().nullable().describe('share of labelled single-row predictions that matched (null: no labels)'),
});

export const ServingStatusReply = z.object({
  model: z.string(),
  env: z.string(),
  percent: z.number().describe('the canary share of routing keys (0 without a canary)'),
  promotionId: z.string().nullable(),
  promotionStatus: z.string().nullable().describe('the status of the promotion that set the route'),
  window: z.object({ from: z.string(), to: z.string() }),
  variants: z.object({ stable: VariantStatusReply, canary: VariantStatusReply }),
  verdicts: z
    .array(
      z.object({
        seq: z.number().int(),
        stageName: z.string(),
        percent: z.number(),
        verdict: z.string(),
        reason: z.string(),
        next: z.string(),
        detail: z.string(),
        judgedAt: z.string(),
      }),
    )
    .describe("the last (up to 5) judged windows of the route's promotion, oldest first"),
  series: z
    .array(z.object({ from: z.string(), to: z.string(), stable: SeriesVariantReply, canary: SeriesVariantReply }))
    .optional()
    .describe(
      'with points > 0: the window in equal slots, oldest first, per routed variant whatever artifact served it then (a rolled-back canary stays visible)',
    ),
});
export type ServingStatusReply = z.output<typeof ServingStatusReply>;
