import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.auditList, container, async (req, c) => {
    const { subject, type, limit, cursor } = req.query;
    return {
      status: 200,
      body: await c.auditTrail.list({ subject, type, limit, after: cursor === undefined ? undefined : Number(cursor) }),
    };
  });

export const handler = build(lambdaContainer);
