import { Logger } from '@aws-lambda-powertools/logger';
import { dispatchLambdaContainer } from '../lib/platform/composition/lambda-dispatch-container.js';

const logger = new Logger({ serviceName: 'aegis-event-dispatch' });

/**
 * The event dispatcher's entry point (the `event-dispatch` job): the EventBridge schedule (every
 * minute) and a commit's asynchronous kick (`{ aegisEventKick: true }`) both deliver the events
 * outbox: each subscription's due deliveries in chain order, to the stack's bus and to webhooks.
 * Outcomes are EMF metrics (`ai_infra_event_deliveries_total{kind,outcome}`: dead letters raise
 * the stack's alarm), never thrown: a run whose deliveries failed itself succeeded.
 */
export const scheduled = async () => {
  const result = (await (await dispatchLambdaContainer()).scheduler.run('event-dispatch')) as Record<string, number>;
  logger.info('event dispatch', result);
  return result;
};
