import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { openApiDocument } from '../lib/platform/http/openapi.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { ROUTE_SCHEMAS } from '../lib/platform/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.openapi, ROUTE_SCHEMAS.openapi, container, async (_req, c) => ({
    status: 200,
    body: openApiDocument({ includeLocalOnly: c.mode === 'local' }),
  }));

export const handler = build(lambdaContainer);
