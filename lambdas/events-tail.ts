import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.eventsTail, container, async (req, c) => {
    const { after, type, wait, limit } = req.query;
    const types =
      type === undefined
        ? []
        : type
            .split(',')
            .map((t) => t.trim())
            .filter(Boolean);
    const page = await c.events.tail({ after: after === undefined ? undefined : Number(after), types, limit, waitMs: wait * 1000 });
    return { status: 200, body: page };
  });

export const handler = build(lambdaContainer);
