import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { webhookReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.webhooksCreate, container, async (req, c) => {
    const { subscription: webhook, secret } = await c.events.createWebhook(req.principal!.id, req.body);
    return { status: 201, body: { webhook: webhookReply(webhook), ...(secret !== undefined && { secret }) } };
  });

export const handler = build(lambdaContainer);
