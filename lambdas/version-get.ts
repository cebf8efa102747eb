import { AegisError } from '../lib/kernel/errors.js';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { artifactReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.versionGet, container, async (req, c) => {
    // within the caller's scope, in the one read (the route's `read: 'in-scope'`): a hidden model's version is missing
    const record = await c.registry.getVersion(req.params.model, req.params.version, req.principal?.scope ?? 'global');
    if (!record) throw new AegisError('NOT_FOUND', `no version ${req.params.version} of ${req.params.model}`, { field: 'version' });
    return { status: 200, body: artifactReply(record) };
  });

export const handler = build(lambdaContainer);
