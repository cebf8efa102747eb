import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { policyLambdaContainer } from '../lib/platform/composition/lambda-policy-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

/** 202 while the release waits for approvals (the policy always requires them), 201 if it applied at once; 409 when not quarantined. */
export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.quarantineRelease, container, async (req, c) => {
    const v = await c.quarantines.request(req.params.artifactId, 'release', req.body.reason, req.principal!);
    return { status: v.quarantined ? 202 : 201, body: v };
  });

export const handler = build(policyLambdaContainer);
