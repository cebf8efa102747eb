import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

/** 202 with how many labels were stored and how many were already; 409 naming items.<i>.label for a different label. */
export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.servingFeedback, container, async (req, c) => {
    const { model, env } = req.params;
    const r = await c.servingTelemetry.feedback(model, env, req.body.items);
    return { status: 202, body: { model, env, ...r } };
  });

export const handler = build(lambdaContainer);
