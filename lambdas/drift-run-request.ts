import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

/** 202 with the run recorded and its execution started; 409 naming env when nothing serves the model there. */
export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.driftRunRequest, container, async (req, c) => {
    const { modelName, env, from, to } = req.body;
    const window = from !== undefined && to !== undefined ? { from: new Date(from), to: new Date(to) } : {};
    const run = await c.drift.requestRun({ model: modelName, env, ...window }, req.principal!.id);
    return { status: 202, body: { run } };
  });

export const handler = build(lambdaContainer);
