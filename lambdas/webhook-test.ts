import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.webhookTest, container, async (req, c) => {
    const o = await c.events.testFire(req.principal!.id, req.params.id);
    return { status: 200, body: { ok: o.ok, status: o.status ?? null, error: o.error ?? null, ms: o.ms } };
  });

export const handler = build(lambdaContainer);
