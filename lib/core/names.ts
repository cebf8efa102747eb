import { z } from 'zod';

/**
 * Model names become storage key segments, so they are restricted to a safe alphabet:
 * no path separators, no `..`, no leading dot or dash. `fraud-detector`, `churn_v2.tabular`.
 */
export const MODEL_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,127}$/;

export const ModelName = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(MODEL_NAME_PATTERN, 'must be lowercase letters, digits, ".", "_" or "-", starting with a letter or digit')
  .refine((s) => !s.includes('..'), 'must not contain ".."');

export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');
export const ContainerDigest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex>');
export const Uuid = z.uuid('must be a UUID');
