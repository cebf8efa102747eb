import { httpHandler, type ContainerProvider } from '../lib/http/handler.js';
import { lambdaContainer } from '../lib/http/lambda-container.js';
import { ROUTES } from '../lib/http/routes.js';
import { ROUTE_SCHEMAS } from '../lib/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.datasetsCreate, ROUTE_SCHEMAS.datasetsCreate, container, async (req, c) => {
    const { record, replayed } = await c.datasets.register(req.body, req.principal!);
    return { status: replayed ? 200 : 201, body: { ...record, replayed } };
  });

export const handler = build(lambdaContainer);
