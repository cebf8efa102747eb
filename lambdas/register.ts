import { httpHandler, validationError, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { IdempotencyKey } from '../lib/platform/http/schemas.js';

/** The request's `Idempotency-Key` header, if it sent one (400 naming it when malformed). */
export function idempotencyKeyOf(headers: Record<string, string | undefined>): string | undefined {
  const raw = headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const parsed = IdempotencyKey.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error, 'Idempotency-Key');
  return parsed.data;
}

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.register, container, async (req, c) => {
    const result = await c.registry.submit(req.body, req.principal!, idempotencyKeyOf(req.headers));
    if (!('replayed' in result)) return { status: 202, body: result };
    return { status: result.replayed ? 200 : 201, body: result };
  });

export const handler = build(lambdaContainer);
