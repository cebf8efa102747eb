import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { notFound } from '../lib/platform/http/scope.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.driftReportGet, container, async (req, c) => {
    const found = await c.drift.report(req.params.reportId);
    if (!found) throw notFound('reportId', req.params.reportId);
    return { status: 200, body: found };
  });

export const handler = build(lambdaContainer);
