import { Logger } from '@aws-lambda-powertools/logger';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';

const logger = new Logger({ serviceName: 'aegis-drift-schedule' });

/**
 * The EventBridge schedule's entry point (the `drift-schedule` job, every minute): records a run
 * of the latest closed window of every serving deployment whose drift schedule is enabled
 * (`policies/drift.json`) and starts the drift state machine on it (AEGIS_DRIFT_STATE_MACHINE_ARN).
 * A window already run is skipped, so a repeated or overlapping invocation starts nothing twice.
 */
export const scheduled = async () => {
  const result = await (await lambdaContainer()).scheduler.run('drift-schedule');
  logger.info('drift runs started', result as Record<string, unknown>);
  return result;
};
