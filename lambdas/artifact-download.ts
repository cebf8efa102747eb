import { AegisError } from '../lib/kernel/errors.js';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { downloadReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.artifactDownload, container, async (req, c) => {
    const record = await c.registry.get(req.params.artifactId);
    if (!record) throw new AegisError('NOT_FOUND', `no artifact ${req.params.artifactId}`, { field: 'artifactId' });
    await c.quarantines.assertNotQuarantined(record.artifactId);
    return { status: 200, body: downloadReply(await c.registry.createDownload(record, req.principal!)) };
  });

export const handler = build(lambdaContainer);
