import { AegisError } from '../lib/kernel/errors.js';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.versionValidate, container, async (req, c) => {
    const record = await c.registry.getVersion(req.params.model, req.params.version);
    if (!record) throw new AegisError('NOT_FOUND', `no version ${req.params.version} of ${req.params.model}`, { field: 'version' });
    return { status: 200, body: await c.verification.validateArtifact(record.artifactId) };
  });

export const handler = build(lambdaContainer);
