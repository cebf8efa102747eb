import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { ROUTE_SCHEMAS } from '../lib/platform/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.lineageBundle, ROUTE_SCHEMAS.lineageBundle, container, async (req, c) => ({
    status: 200,
    body: { files: await c.lineage.bundle(req.params.artifactId) },
  }));

export const handler = build(lambdaContainer);
