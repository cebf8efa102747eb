import { httpHandler, type ContainerProvider } from '../lib/http/handler.js';
import { lambdaContainer } from '../lib/http/lambda-container.js';
import { ROUTES } from '../lib/http/routes.js';
import { ROUTE_SCHEMAS } from '../lib/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.lineageGet, ROUTE_SCHEMAS.lineageGet, container, async (req, c) => ({
    status: 200,
    body: await c.lineage.lineage(req.params.artifactId),
  }));

export const handler = build(lambdaContainer);
