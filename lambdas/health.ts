import { httpHandler, standaloneHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { AEGIS_VERSION } from '../lib/platform/http/routes/meta.js';

/**
 * Liveness: answers from the process alone. Whether the dependencies answer is /v1/readyz's
 * business (authenticated); the Lambda handler does not even build a container, so a cold
 * start runs no startup check against the database, the buckets or the keys.
 */
export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.health, container, async (_req, c) => ({
    status: 200,
    body: { ok: true as const, mode: c.mode, version: AEGIS_VERSION },
  }));

export const handler = standaloneHandler(ROUTES.health, () => ({
  status: 200,
  body: { ok: true as const, mode: 'lambda' as const, version: AEGIS_VERSION },
}));
