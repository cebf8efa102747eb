import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.webhookSecret, container, async (req, c) => ({
    status: 200,
    body: await c.events.setSecret(req.principal!.id, req.params.id, req.body.secret),
  }));

export const handler = build(lambdaContainer);
