import { AegisError } from '../lib/kernel/errors.js';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { promotionReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.promotionGet, container, async (req, c) => {
    const p = await c.promotions.get(req.params.promotionId);
    if (!p) throw new AegisError('NOT_FOUND', `no promotion ${req.params.promotionId}`, { field: 'promotionId' });
    return { status: 200, body: promotionReply(p) };
  });

export const handler = build(lambdaContainer);
