import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { ROUTE_SCHEMAS } from '../lib/platform/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.datasetsCreate, ROUTE_SCHEMAS.datasetsCreate, container, async (req, c) => {
    const { record, replayed } = await c.datasets.register(req.body, req.principal!);
    return { status: replayed ? 200 : 201, body: { ...record, replayed } };
  });

export const handler = build(lambdaContainer);
