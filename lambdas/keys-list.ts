import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.keysList, container, async (_req, c) => ({
    status: 200,
    body: { keys: await c.keys.list() },
  }));

export const handler = build(lambdaContainer);
