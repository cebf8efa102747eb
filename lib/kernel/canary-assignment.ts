import { createHash } from 'node:crypto';

/** Buckets per deployment: a percent is a whole number of basis points (`percent × 100`). */
export const ASSIGNMENT_BUCKETS = 10_000;

/**
 * The bucket of a routing key within a promotion: the first four bytes (big-endian) of
 * `sha256("<promotionId>:<key>")`, modulo 10,000. Seeding with the promotion id gives each
 * canary its own split, so the same subjects are not always the guinea pigs.
 *
 * @example assignmentBucket('7d4c…', 'user-42') // 0 ≤ bucket < 10000, the same every call
 */
export function assignmentBucket(promotionId: string, key: string): number {
  const digest = createHash('sha256').update(`${promotionId}:${key}`, 'utf8').digest();
  return digest.readUInt32BE(0) % ASSIGNMENT_BUCKETS;
}

/**
 * Whether a routing key goes to the canary at `percent` (0–100, up to two decimals):
 * `bucket < percent × 100`. Deterministic, and monotone in the percent: raising it only adds
 * buckets, so a key on the canary stays there as the canary widens.
 *
 * @example isCanary(promotionId, subjectId ?? requestId, 5)
 */
export function isCanary(promotionId: string, key: string, percent: number): boolean {
  if (!(percent > 0)) return false;
  return assignmentBucket(promotionId, key) < Math.round(percent * 100);
}
