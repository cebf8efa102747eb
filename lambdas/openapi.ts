import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { openApiDocument } from '../lib/platform/http/openapi.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.openapi, container, async (_req, c) => ({
    status: 200,
    body: openApiDocument({ includeLocalOnly: c.mode === 'local' }),
  }));

export const handler = build(lambdaContainer);
