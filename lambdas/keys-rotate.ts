import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.keysRotate, container, async (req, c) => {
    const { purpose, kmsKeyId, revoke } = req.body;
    const actor = req.principal!.id;
    const { previous, current } = await c.keys.rotate(purpose, kmsKeyId ? { kmsKeyId } : {}, actor);
    const prev = previous && revoke ? await c.keys.revoke(previous.kid, actor) : previous;
    c.logger.info('signing key rotated', {
      purpose,
      previous: prev?.kid,
      current: current.kid,
      revoked: Boolean(revoke && prev),
      by: req.principal!.id,
    });
    return { status: 200, body: { previous: prev ?? null, current } };
  });

export const handler = build(lambdaContainer);
