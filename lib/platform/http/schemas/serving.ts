import * as z from 'zod';
import { SERVING_LIMITS, REQUEST_ID_PATTERN } from '../../../modules/serving/domain.js';

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
