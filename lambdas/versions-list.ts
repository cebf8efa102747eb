import { AegisError } from '../lib/kernel/errors.js';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { versionsReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.versionsList, container, async (req, c) => {
    const { cursor, limit } = req.query;
    if (cursor !== undefined && !/^[1-9]\d{0,9}$/.test(cursor)) {
      throw new AegisError('VALIDATION_FAILED', 'query.cursor: must be a version number from nextCursor', { field: 'query.cursor' });
    }
    return {
      status: 200,
      body: versionsReply(await c.registry.listVersions(req.params.model, { limit, ...(cursor ? { cursor: Number(cursor) } : {}) })),
    };
  });

export const handler = build(lambdaContainer);
