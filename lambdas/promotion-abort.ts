import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { promotionReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.promotionAbort, container, async (req, c) => ({
    status: 202,
    body: promotionReply(await c.promotions.abort(req.params.promotionId, req.body.reason, req.principal!)),
  }));

export const handler = build(lambdaContainer);
