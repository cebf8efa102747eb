import { AegisError } from '../lib/kernel/errors.js';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { downloadReply } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.envDownload, container, async (req, c) => {
    const { model, env } = req.params;
    const variant = req.query.variant;
    const artifactId = await c.rollout.routedArtifact(model, env, variant);
    const record = artifactId ? await c.registry.get(artifactId) : undefined;
    if (!record)
      throw new AegisError('NOT_FOUND', `no ${variant} artifact of ${model} serves ${env}`, {
        field: variant === 'canary' ? 'variant' : 'env',
      });
    await c.quarantines.assertNotQuarantined(record.artifactId);
    return { status: 200, body: downloadReply(await c.registry.createDownload(record, req.principal!)) };
  });

export const handler = build(lambdaContainer);
