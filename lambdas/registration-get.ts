import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.registrationGet, container, async (req, c) => ({
    status: 200,
    body: await c.registry.registrationStatus(req.params.registrationId, req.principal!),
  }));

export const handler = build(lambdaContainer);
