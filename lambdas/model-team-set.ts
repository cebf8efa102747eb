import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

/** An admin's change of a model's team label; a scoped admin is refused (the label decides who else sees the model). */
export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.modelTeamSet, container, async (req, c) => ({
    status: 200,
    body: await c.registry.setTeam(req.params.model, req.body.team, req.principal!),
  }));

export const handler = build(lambdaContainer);
