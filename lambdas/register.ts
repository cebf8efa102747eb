import { httpHandler, validationError, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { IdempotencyKey } from '../lib/platform/http/schemas.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.register, container, async (req, c) => {
    const raw = req.headers['idempotency-key'];
    let key: string | undefined;
    if (raw !== undefined) {
      const parsed = IdempotencyKey.safeParse(raw);
      if (!parsed.success) throw validationError(parsed.error, 'Idempotency-Key');
      key = parsed.data;
    }
    const result = await c.registry.submit(req.body, req.principal!, key);
    if (!('replayed' in result)) return { status: 202, body: result };
    return { status: result.replayed ? 200 : 201, body: result };
  });

export const handler = build(lambdaContainer);
