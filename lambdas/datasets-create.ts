import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { datasetReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.datasetsCreate, container, async (req, c) => {
    const { record, replayed } = await c.datasets.register(req.body, req.principal!);
    return { status: replayed ? 200 : 201, body: { ...datasetReply(record), replayed } };
  });

export const handler = build(lambdaContainer);
