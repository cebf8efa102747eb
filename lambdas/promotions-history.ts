import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';
import { promotionSummary } from '../lib/platform/http/replies.js';

export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.promotionsByArtifact, container, async (req, c) => ({
    status: 200,
    body: { items: (await c.promotions.history(req.params.artifactId)).map(promotionSummary) },
  }));

export const handler = build(lambdaContainer);
