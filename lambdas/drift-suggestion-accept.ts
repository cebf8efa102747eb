import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { notFound } from '../lib/platform/http/scope.js';

/** 409 naming status when SUGGESTION_TRANSITIONS forbids it; 404 for an unknown suggestion. */
export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.driftSuggestionAccept, container, async (req, c) => {
    const { suggestionId } = req.params;
    if (!(await c.drift.suggestion(suggestionId))) throw notFound('suggestionId', suggestionId);
    return { status: 200, body: { suggestion: await c.drift.decide(suggestionId, 'accept', req.body.reason, req.principal!.id) } };
  });

export const handler = build(lambdaContainer);
