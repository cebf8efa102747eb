import { AegisError } from '../lib/kernel/errors.js';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { ROUTE_SCHEMAS } from '../lib/platform/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.artifactGet, ROUTE_SCHEMAS.artifactGet, container, async (req, c) => {
    const record = await c.registry.get(req.params.artifactId);
    if (!record) throw new AegisError('NOT_FOUND', `no artifact ${req.params.artifactId}`, { field: 'artifactId' });
    return { status: 200, body: record };
  });

export const handler = build(lambdaContainer);
