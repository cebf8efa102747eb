import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { policyLambdaContainer } from '../lib/platform/composition/lambda-policy-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

/** 201 when applied (and enforced; also when asked again for one whose enforcement never finished), 202 when the policy requires approvals, 403 with the denying rules, 409 when already quarantined. */
export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.quarantine, container, async (req, c) => {
    const v = await c.quarantines.request(req.params.artifactId, 'quarantine', req.body.reason, req.principal!);
    return { status: v.quarantined ? 201 : 202, body: v };
  });

export const handler = build(policyLambdaContainer);
