import { httpHandler, type ContainerProvider } from '../lib/http/handler.js';
import { lambdaContainer } from '../lib/http/lambda-container.js';
import { ROUTES } from '../lib/http/routes.js';
import { ROUTE_SCHEMAS } from '../lib/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.tokensCreate, ROUTE_SCHEMAS.tokensCreate, container, async (req, c) => ({
    status: 201,
    body: await c.tokens.create(req.body.principal, req.body.role, req.principal!.id),
  }));

export const handler = build(lambdaContainer);
