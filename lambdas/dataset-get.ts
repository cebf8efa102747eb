import { AegisError } from '../lib/kernel/errors.js';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { datasetReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.datasetGet, container, async (req, c) => {
    const record = await c.datasets.get(req.params.id, req.params.version);
    if (!record) throw new AegisError('NOT_FOUND', `no dataset ${req.params.id}@${req.params.version}`, { field: 'version' });
    return { status: 200, body: datasetReply(record) };
  });

export const handler = build(lambdaContainer);
