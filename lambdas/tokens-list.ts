import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { tokenReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.tokensList, container, async (req, c) => {
    const page = await c.tokens.list(req.query);
    return { status: 200, body: { items: page.items.map(tokenReply), nextCursor: page.nextCursor } };
  });

export const handler = build(lambdaContainer);
