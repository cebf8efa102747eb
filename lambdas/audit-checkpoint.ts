import { Logger } from '@aws-lambda-powertools/logger';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';

const logger = new Logger({ serviceName: 'aegis-audit-checkpoint' });

/**
 * The EventBridge schedule's entry point (the `audit-checkpoint` job): signs the audit chain's
 * head with the audit key into the archive bucket (`audit/heads/…`, Object Lock) when it moved.
 * A run that finds the database behind, or different from, its newest checkpoint throws: it
 * lands in the dead-letter queue and the alarm goes off.
 */
export const scheduled = async () => {
  const result = await (await lambdaContainer()).scheduler.run('audit-checkpoint');
  logger.info('audit head checkpoint', result as Record<string, unknown>);
  return result;
};
