import { Logger } from '@aws-lambda-powertools/logger';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';

const logger = new Logger({ serviceName: 'aegis-pending-upload-expiry' });

/**
 * The EventBridge schedule's entry point (the `pending-upload-expiry` job): uploads never
 * registered within AEGIS_PENDING_UPLOAD_TTL_SECONDS are expired, their unretained bytes
 * deleted and their rows removed. The bucket's lifecycle rule (tag `aegis-upload=pending`)
 * removes the bytes of any the database no longer knows.
 */
export const scheduled = async () => {
  const result = await (await lambdaContainer()).scheduler.run('pending-upload-expiry');
  logger.info('pending uploads expired', result as Record<string, unknown>);
  return result;
};
