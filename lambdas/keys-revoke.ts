import { httpHandler, type ContainerProvider } from '../lib/http/handler.js';
import { lambdaContainer } from '../lib/http/lambda-container.js';
import { ROUTES } from '../lib/http/routes.js';
import { ROUTE_SCHEMAS } from '../lib/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.keysRevoke, ROUTE_SCHEMAS.keysRevoke, container, async (req, c) => ({
    status: 200,
    body: await c.keys.revoke(req.params.kid, req.principal!.id),
  }));

export const handler = build(lambdaContainer);
