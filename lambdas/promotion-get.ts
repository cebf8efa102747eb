import { AegisError } from '../lib/core/errors.js';
import { httpHandler, type ContainerProvider } from '../lib/http/handler.js';
import { lambdaContainer } from '../lib/http/lambda-container.js';
import { ROUTES } from '../lib/http/routes.js';
import { ROUTE_SCHEMAS } from '../lib/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.promotionGet, ROUTE_SCHEMAS.promotionGet, container, async (req, c) => {
    const p = await c.promotions.get(req.params.promotionId);
    if (!p) throw new AegisError('NOT_FOUND', `no promotion ${req.params.promotionId}`, { field: 'promotionId' });
    return { status: 200, body: p };
  });

export const handler = build(lambdaContainer);
