import { AegisError } from '../lib/kernel/errors.js';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { policyLambdaContainer } from '../lib/platform/composition/lambda-policy-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { promotedWithWarnings, promotionReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.promoteVersion, container, async (req, c) => {
    const record = await c.registry.getVersion(req.params.model, req.params.version);
    if (!record) throw new AegisError('NOT_FOUND', `no version ${req.params.version} of ${req.params.model}`, { field: 'version' });
    const { promotion: p, warnings } = await promotedWithWarnings(c, record.artifactId, () =>
      c.promotions.promote(record.artifactId, req.body, req.principal!),
    );
    return { status: p.status === 'pending_multisig' ? 202 : 201, body: { ...promotionReply(p), ...warnings } };
  });

export const handler = build(policyLambdaContainer);
