import { AegisError } from '../lib/kernel/errors.js';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { artifactReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.artifactGet, container, async (req, c) => {
    // within the caller's scope, in the one read (the route's `read: 'in-scope'`): a hidden model's artifact is missing
    const record = await c.registry.getInScope(req.params.artifactId, req.principal?.scope ?? 'global');
    if (!record) throw new AegisError('NOT_FOUND', `no artifact ${req.params.artifactId}`, { field: 'artifactId' });
    return { status: 200, body: artifactReply(record) };
  });

export const handler = build(lambdaContainer);
