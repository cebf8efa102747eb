import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.webhookReplay, container, async (req, c) => {
    const replayed = await c.events.replay(req.params.id, req.body.seqs);
    // the dispatcher sends them now (locally; on AWS its schedule or the next commit wakes it)
    c.eventDispatcher.kick();
    return { status: 200, body: replayed };
  });

export const handler = build(lambdaContainer);
