import { AegisError } from '../lib/kernel/errors.js';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { policyLambdaContainer } from '../lib/platform/composition/lambda-policy-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { promotionReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.rollback, container, async (req, c) => {
    const target = await c.registry.get(req.body.toArtifactId);
    if (!target || target.modelName !== req.params.model)
      throw new AegisError('NOT_FOUND', `no artifact ${req.body.toArtifactId} of ${req.params.model}`, { field: 'toArtifactId' });
    const p = await c.promotions.rollback(target.artifactId, req.body, req.principal!);
    return { status: p.status === 'pending_multisig' ? 202 : 201, body: promotionReply(p) };
  });

export const handler = build(policyLambdaContainer);
