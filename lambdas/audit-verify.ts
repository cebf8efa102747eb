import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.auditVerify, container, async (req, c) => ({
    status: 200,
    body: await c.auditTrail.verify({
      fromArchive: req.query.fromArchive === 'true',
      ...(req.query.since ? { since: req.query.since } : {}),
    }),
  }));

export const handler = build(lambdaContainer);
