import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.webhookDelete, container, async (req, c) => {
    await c.events.removeWebhook(req.principal!.id, req.params.id);
    return { status: 200, body: { subscriptionId: req.params.id, deleted: true as const } };
  });

export const handler = build(lambdaContainer);
