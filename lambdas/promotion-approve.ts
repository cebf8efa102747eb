import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { promotionReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.promotionApprove, container, async (req, c) => ({
    status: 200,
    body: promotionReply(await c.promotions.approve(req.params.promotionId, req.body, req.principal!)),
  }));

export const handler = build(lambdaContainer);
