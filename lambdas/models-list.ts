import { httpHandler, type ContainerProvider } from '../lib/http/handler.js';
import { lambdaContainer } from '../lib/http/lambda-container.js';
import { ROUTES } from '../lib/http/routes.js';
import { ROUTE_SCHEMAS } from '../lib/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.modelsList, ROUTE_SCHEMAS.modelsList, container, async (req, c) => ({
    status: 200,
    body: await c.registry.listModels({ limit: req.query.limit, ...(req.query.cursor ? { cursor: req.query.cursor } : {}) }),
  }));

export const handler = build(lambdaContainer);
