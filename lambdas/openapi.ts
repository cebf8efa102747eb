import { httpHandler, type ContainerProvider } from '../lib/http/handler.js';
import { lambdaContainer } from '../lib/http/lambda-container.js';
import { openApiDocument } from '../lib/http/openapi.js';
import { ROUTES } from '../lib/http/routes.js';
import { ROUTE_SCHEMAS } from '../lib/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.openapi, ROUTE_SCHEMAS.openapi, container, async (_req, c) => ({
    status: 200,
    body: openApiDocument({ includeLocalOnly: c.mode === 'local' }),
  }));

export const handler = build(lambdaContainer);
