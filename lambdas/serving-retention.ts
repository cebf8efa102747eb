import { Logger } from '@aws-lambda-powertools/logger';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';

const logger = new Logger({ serviceName: 'aegis-serving-retention' });

/**
 * The EventBridge schedule's entry point (the `serving-retention` job): serving events and
 * label feedback older than AEGIS_SERVING_RETENTION_DAYS are deleted from the database. Input
 * segments in DRIFT_S3_BUCKET are left to the bucket's lifecycle rule on the same horizon, so
 * this function has no right to delete objects.
 */
export const scheduled = async () => {
  const result = await (await lambdaContainer()).scheduler.run('serving-retention');
  logger.info('serving telemetry purged', result as Record<string, unknown>);
  return result;
};
