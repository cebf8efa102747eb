import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { policyLambdaContainer } from '../lib/platform/composition/lambda-policy-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

/** The approval that completes a quarantine's quorum enforces it, which may request rollbacks: this route decides policy too. */
export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.quarantineApprove, container, async (req, c) => ({
    status: 200,
    body: await c.quarantines.approve(req.params.requestId, req.body, req.principal!),
  }));

export const handler = build(policyLambdaContainer);
