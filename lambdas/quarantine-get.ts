import { AegisError } from '../lib/kernel/errors.js';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.quarantineGet, container, async (req, c) => {
    const v = await c.quarantines.get(req.params.artifactId);
    if (!v) throw new AegisError('NOT_FOUND', `no artifact ${req.params.artifactId}`, { field: 'artifactId' });
    return { status: 200, body: v };
  });

export const handler = build(lambdaContainer);
