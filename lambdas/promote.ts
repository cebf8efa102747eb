import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { policyLambdaContainer } from '../lib/platform/composition/lambda-policy-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { promotedWithWarnings, promotionReply } from '../lib/platform/http/replies.js';

/** 201 when allowed (the rollout starts), 202 when multisig is pending, 403 with the denying rules, 409 when one is in flight. */
export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.promote, container, async (req, c) => {
    const { promotion: p, warnings } = await promotedWithWarnings(c, req.params.artifactId, () =>
      c.promotions.promote(req.params.artifactId, req.body, req.principal!),
    );
    return { status: p.status === 'pending_multisig' ? 202 : 201, body: { ...promotionReply(p), ...warnings } };
  });

export const handler = build(policyLambdaContainer);
