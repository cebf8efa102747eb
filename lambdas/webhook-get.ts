import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { webhookReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.webhookGet, container, async (req, c) => ({ status: 200, body: webhookReply(await c.events.get(req.params.id)) }));

export const handler = build(lambdaContainer);
