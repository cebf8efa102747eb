import * as z from 'zod';

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

/** Dataset ids and versions are storage-safe tokens too: `transactions`, `2026-11`, `v3.1+fix`. */
export const DatasetId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit');
export const DatasetVersion = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/, 'must be 1-64 of A-Z a-z 0-9 . _ + -, starting with a letter or digit');
export const DatasetChecksum = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex>');
