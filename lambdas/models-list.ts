import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.modelsList, container, async (req, c) => ({
    status: 200,
    body: await c.registry.listModels({
      limit: req.query.limit,
      scope: req.principal!.scope,
      ...(req.query.cursor ? { cursor: req.query.cursor } : {}),
    }),
  }));

export const handler = build(lambdaContainer);
