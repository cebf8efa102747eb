import { Logger } from '@aws-lambda-powertools/logger';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';

const logger = new Logger({ serviceName: 'aegis-pending-promotion-expiry' });

/**
 * The EventBridge schedule's entry point (the `pending-promotion-expiry` job): multisig
 * promotions still waiting for approvals after AEGIS_PENDING_PROMOTION_TTL_SECONDS are marked
 * expired, each with its signed `promotion.expired` audit event, a bounded batch per run.
 */
export const scheduled = async () => {
  const result = await (await lambdaContainer()).scheduler.run('pending-promotion-expiry');
  logger.info('pending promotions expired', result as Record<string, unknown>);
  return result;
};
