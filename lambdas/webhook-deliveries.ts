import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { deliveryReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.webhookDeliveries, container, async (req, c) => {
    const { status, limit, cursor } = req.query;
    const page = await c.events.deliveries(req.params.id, { status, limit, before: cursor === undefined ? undefined : Number(cursor) });
    return { status: 200, body: { items: page.items.map(deliveryReply), nextCursor: page.nextCursor } };
  });

export const handler = build(lambdaContainer);
