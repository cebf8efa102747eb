import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { ROUTE_SCHEMAS } from '../lib/platform/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.uploadsCreate, ROUTE_SCHEMAS.uploadsCreate, container, async (req, c) => ({
    status: 201,
    body: await c.registry.createUpload(req.body, req.principal!),
  }));

export const handler = build(lambdaContainer);
