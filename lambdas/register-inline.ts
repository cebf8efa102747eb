import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { idempotencyKeyOf } from './register.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.registerInline, container, async (req, c) => {
    const { artifact, ...rest } = req.body;
    const result = await c.registry.registerInline(
      { ...rest, bytes: Buffer.from(artifact, 'base64') },
      req.principal!,
      idempotencyKeyOf(req.headers),
    );
    return { status: result.replayed ? 200 : 201, body: result };
  });

export const handler = build(lambdaContainer);
