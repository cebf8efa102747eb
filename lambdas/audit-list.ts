import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.auditList, container, async (req, c) => {
    const { subject, type, since, until, limit, cursor } = req.query;
    const at = (iso: string | undefined) => (iso === undefined ? undefined : new Date(iso));
    return {
      status: 200,
      body: await c.auditTrail.list({
        subject,
        type,
        since: at(since),
        until: at(until),
        limit,
        after: cursor === undefined ? undefined : Number(cursor),
      }),
    };
  });

export const handler = build(lambdaContainer);
