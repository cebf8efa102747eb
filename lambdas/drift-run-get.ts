import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { notFound } from '../lib/platform/http/scope.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.driftRunGet, container, async (req, c) => {
    const run = await c.drift.run(req.params.runId);
    if (!run) throw notFound('runId', req.params.runId);
    return { status: 200, body: { run } };
  });

export const handler = build(lambdaContainer);
