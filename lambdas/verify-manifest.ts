import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.verifyManifest, container, async (req, c) => ({
    status: 200,
    body: await c.verification.verify(req.body, req.principal!.scope),
  }));

export const handler = build(lambdaContainer);
