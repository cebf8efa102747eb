import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.tokensCreate, container, async (req, c) => ({
    status: 201,
    body: await c.tokens.create(req.body.principal, req.body.role, req.principal!.id, req.body.scope ?? 'global'),
  }));

export const handler = build(lambdaContainer);
