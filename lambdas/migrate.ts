import { Logger } from '@aws-lambda-powertools/logger';
import { bootstrap } from '../lib/platform/composition/services.js';
import { buildLambdaContainer } from '../lib/platform/composition/lambda.js';
import { loadCheckedConfig } from '../lib/platform/config.js';

const logger = new Logger({ serviceName: 'aegis-migrate' });

/**
 * Runs on every deploy (a CloudFormation custom resource): schema migrations, then adopts
 * the KMS signing keys into the key ring. Idempotent.
 */
export const handler = async (event: { RequestType?: string } = {}) => {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: 'aegis-migrations' };
  const config = loadCheckedConfig();
  const c = await buildLambdaContainer(config, { logger, migrating: true });
  try {
    const applied = await bootstrap(config, c.database, c.keys);
    logger.info('migrations applied', { applied });
    return { PhysicalResourceId: 'aegis-migrations', Data: { applied: applied.join(',') } };
  } finally {
    await c.close();
  }
};
