import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { scopedPage } from '../lib/platform/http/scope.js';

/** Newest first; a scoped caller sees its models' reports only (scope.ts, scopedPage). */
export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.driftReportsList, container, async (req, c) => {
    const { model, env, since } = req.query;
    const page = await scopedPage(req.principal, c, req.query, (limit, cursor) =>
      c.drift.reports({
        limit,
        ...(model !== undefined ? { model } : {}),
        ...(env !== undefined ? { env } : {}),
        ...(since !== undefined ? { since: new Date(since) } : {}),
        ...(cursor !== undefined ? { cursor } : {}),
      }),
    );
    return { status: 200, body: { reports: page.items, nextCursor: page.nextCursor } };
  });

export const handler = build(lambdaContainer);
