import { Logger } from '@aws-lambda-powertools/logger';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.auditArchive, container, async (_req, c) => ({
    status: 200,
    body: await c.auditTrail.archive(),
  }));

export const handler = build(lambdaContainer);

const logger = new Logger({ serviceName: 'aegis-audit-archive' });

/** The EventBridge schedule's entry point: archive whatever is new (the `audit-archive` job). */
export const scheduled = async () => {
  const result = await (await lambdaContainer()).scheduler.run('audit-archive');
  logger.info('audit archived', result as Record<string, unknown>);
  return result;
};
