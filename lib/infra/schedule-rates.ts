import { Duration } from 'aws-cdk-lib';
import { SCHEDULED_JOB_RATES, type EnvironmentConfig } from './environments.js';

/**
 * The stack props an environment's `schedules` set: `auditArchiveMinutes: 10` → `auditArchiveRate: Duration.minutes(10)`.
 *
 * @example scheduleRates({ servingRetentionMinutes: 30 }) // { servingRetentionRate: Duration.minutes(30) }
 */
export function scheduleRates(
  schedules: EnvironmentConfig['schedules'],
): Partial<Record<`${(typeof SCHEDULED_JOB_RATES)[number] extends `${infer J}Minutes` ? J : never}Rate`, Duration>> {
  const out: Record<string, Duration> = {};
  for (const key of SCHEDULED_JOB_RATES) {
    const minutes = schedules?.[key];
    if (minutes !== undefined) out[`${key.slice(0, -'Minutes'.length)}Rate`] = Duration.minutes(minutes);
  }
  return out;
}
