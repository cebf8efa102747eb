import { httpHandler, type ContainerProvider } from '../lib/http/handler.js';
import { lambdaContainer } from '../lib/http/lambda-container.js';
import { ROUTES } from '../lib/http/routes.js';
import { ROUTE_SCHEMAS } from '../lib/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.keysEnroll, ROUTE_SCHEMAS.keysEnroll, container, async (req, c) => ({
    status: 201,
    body: await c.keys.enroll(req.body, req.principal!.id),
  }));

export const handler = build(lambdaContainer);
