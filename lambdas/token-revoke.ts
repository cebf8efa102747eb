import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { tokenReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.tokenRevoke, container, async (req, c) => ({
    status: 200,
    body: tokenReply(await c.tokens.revoke(req.params.tokenId, req.principal!.id)),
  }));

export const handler = build(lambdaContainer);
