import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { notFound } from '../lib/platform/http/scope.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.driftSuggestionGet, container, async (req, c) => {
    const suggestion = await c.drift.suggestion(req.params.suggestionId);
    if (!suggestion) throw notFound('suggestionId', req.params.suggestionId);
    return { status: 200, body: { suggestion } };
  });

export const handler = build(lambdaContainer);
