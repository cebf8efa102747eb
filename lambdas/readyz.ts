import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { AEGIS_VERSION } from '../lib/platform/http/routes/meta.js';
import { checkReadiness } from '../lib/platform/readiness.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.readyz, container, async (_req, c) => {
    const { ok, checks } = await checkReadiness(c);
    return { status: ok ? 200 : 503, body: { ok, mode: c.mode, version: AEGIS_VERSION, checks } };
  });

export const handler = build(lambdaContainer);
