import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import { lambdaContainer } from '../lib/platform/composition/lambda-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

/** The last verdicts shown with a status. */
const LAST_VERDICTS = 5;

/** 200 with the split, per-variant numbers and the last verdicts; 404 (field env) where nothing serves. */
export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.servingStatus, container, async (req, c) => {
    const { model, env } = req.params;
    const s = await c.servingTelemetry.status(model, env, req.query.windowMinutes, req.query.points);
    const promotion = s.promotionId ? await c.promotions.get(s.promotionId) : undefined;
    const verdicts = (promotion?.verdicts ?? []).slice(-LAST_VERDICTS).map((v) => ({
      seq: v.seq,
      stageName: v.stageName,
      percent: v.percent,
      verdict: v.verdict,
      reason: v.reason,
      next: v.next,
      detail: v.detail,
      judgedAt: v.judgedAt,
    }));
    return { status: 200, body: { ...s, promotionStatus: promotion?.status ?? null, verdicts } };
  });

export const handler = build(lambdaContainer);
