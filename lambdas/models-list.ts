import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.modelsList, container, async (req, c) => {
    const page = await c.registry.listModels({
      limit: req.query.limit,
      scope: req.principal!.scope,
      ...(req.query.cursor ? { cursor: req.query.cursor } : {}),
      ...(req.query.q ? { contains: req.query.q } : {}),
    });
    // what serves each model (the rollout's routes) and those artifacts' versions: three queries a page
    const serving = await c.rollout.servingOf(page.items.map((m) => m.name));
    const versions = await c.registry.versionsOf([...serving.values()].flat().map((e) => e.artifactId));
    const items = page.items.map((m) => ({
      ...m,
      environments: (serving.get(m.name) ?? []).map((e) => ({ ...e, version: versions.get(e.artifactId) ?? null })),
    }));
    return { status: 200, body: { items, nextCursor: page.nextCursor } };
  });

export const handler = build(lambdaContainer);
