import { AegisError } from '../lib/kernel/errors.js';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { downloadReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.versionDownload, container, async (req, c) => {
    const record = await c.registry.getVersion(req.params.model, req.params.version);
    if (!record) throw new AegisError('NOT_FOUND', `no version ${req.params.version} of ${req.params.model}`, { field: 'version' });
    await c.quarantines.assertNotQuarantined(record.artifactId);
    return { status: 200, body: downloadReply(await c.registry.createDownload(record, req.principal!)) };
  });

export const handler = build(lambdaContainer);
