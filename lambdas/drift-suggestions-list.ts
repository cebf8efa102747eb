import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { scopedPage } from '../lib/platform/http/scope.js';

/** Newest first; a scoped caller sees its models' suggestions only (scope.ts, scopedPage). */
export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.driftSuggestionsList, container, async (req, c) => {
    const { model, env, status } = req.query;
    const page = await scopedPage(req.principal, c, req.query, (limit, cursor) =>
      c.drift.suggestions({
        limit,
        ...(model !== undefined ? { model } : {}),
        ...(env !== undefined ? { env } : {}),
        ...(status !== undefined ? { status } : {}),
        ...(cursor !== undefined ? { cursor } : {}),
      }),
    );
    return { status: 200, body: { suggestions: page.items, nextCursor: page.nextCursor } };
  });

export const handler = build(lambdaContainer);
