import { httpHandler, type ContainerProvider } from '../lib/http/handler.js';
import { lambdaContainer } from '../lib/http/lambda-container.js';
import { ROUTES } from '../lib/http/routes.js';
import { ROUTE_SCHEMAS } from '../lib/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.lineageBundle, ROUTE_SCHEMAS.lineageBundle, container, async (req, c) => ({
    status: 200,
    body: { files: await c.lineage.bundle(req.params.artifactId) },
  }));

export const handler = build(lambdaContainer);
