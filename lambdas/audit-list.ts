import { httpHandler, type ContainerProvider } from '../lib/http/handler.js';
import { lambdaContainer } from '../lib/http/lambda-container.js';
import { ROUTES } from '../lib/http/routes.js';
import { ROUTE_SCHEMAS } from '../lib/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.auditList, ROUTE_SCHEMAS.auditList, container, async (req, c) => {
    const { subject, type, limit, cursor } = req.query;
    return {
      status: 200,
      body: await c.auditTrail.list({ subject, type, limit, after: cursor === undefined ? undefined : Number(cursor) }),
    };
  });

export const handler = build(lambdaContainer);
