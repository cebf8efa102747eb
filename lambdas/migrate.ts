import { Logger } from '@aws-lambda-powertools/logger';
import { bootstrap } from '../lib/platform/composition/bootstrap.js';
import { appDatabaseUser, buildLambdaContainer } from '../lib/platform/composition/lambda.js';
import { grantAppUser } from '../lib/platform/sql/app-user.js';
import { loadCheckedConfig } from '../lib/platform/config.js';

const logger = new Logger({ serviceName: 'aegis-migrate' });

/**
 * Runs on every deploy (a CloudFormation custom resource), as the master user: schema
 * migrations, then adopts the KMS signing keys into the key ring, then makes the application
 * database user (its secret: `AEGIS_APP_DATABASE_SECRET_ARN`) a login role with exactly the
 * grants the application needs. Idempotent.
 */
export const handler = async (event: { RequestType?: string } = {}) => {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: 'aegis-migrations' };
  const config = loadCheckedConfig();
  const c = await buildLambdaContainer(config, { logger, migrating: true });
  try {
    const applied = await bootstrap(config, c.database, c.keys, c.events);
    logger.info('migrations applied', { applied });
    const appUser = await appDatabaseUser(config);
    if (appUser) {
      await grantAppUser(c.database.db, appUser);
      logger.info('application database user granted', { username: appUser.username });
    }
    return { PhysicalResourceId: 'aegis-migrations', Data: { applied: applied.join(',') } };
  } finally {
    await c.close();
  }
};
