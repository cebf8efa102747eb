import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { AegisError } from '../lib/kernel/errors.js';
import { REQUEST_ID_PATTERN } from '../lib/modules/serving/domain.js';
import { WARM_UP_EVENT_FIELD } from '../lib/platform/adapters/serving/warm-up-event.js';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
import type { WarmUpRequest, WarmUpResult } from '../lib/platform/ports/serving-warmer.js';
import { servingLambdaContainer } from '../lib/platform/composition/lambda-serving-container.js';
import { ROUTES } from '../lib/platform/http/routes.js';

/** The caller's X-Request-Id, when it gives one; it keys the serving event, so it must be a short printable id. */
function callerRequestId(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!REQUEST_ID_PATTERN.test(header))
    throw new AegisError('VALIDATION_FAILED', 'X-Request-Id: must be 1-128 of A-Z a-z 0-9 . _ : @ -, starting with a letter or digit', {
      field: 'X-Request-Id',
    });
  return header;
}

/** 200 with one prediction per row and the headers naming the artifact; 400 naming the input field; 503 when the artifact is refused. */
export const build = (container: ContainerProvider) =>
  httpHandler(ROUTES.servingPredict, container, async (req, c) => {
    const { model, env } = req.params;
    const requestId = req.body.requestId ?? callerRequestId(req.headers['x-request-id']) ?? req.requestId;
    let r;
    try {
      r = await c.serving.predict({ modelName: model, env, requestId, subjectId: req.body.subjectId, inputs: req.body.inputs });
    } finally {
      // a frozen Lambda container runs no timer: write the input segments that are due before returning
      await c.serving.flushDue();
    }
    return {
      status: 200,
      body: {
        requestId,
        model,
        env,
        variant: r.variant,
        artifactId: r.artifactId,
        manifestSignatureId: r.manifestSignatureId,
        predictions: r.predictions,
      },
      headers: {
        'x-request-id': requestId,
        'x-aegis-artifact-id': r.artifactId,
        'x-aegis-variant': r.variant,
        'x-aegis-manifest-signature-id': r.manifestSignatureId,
      },
    };
  });

/** The rollout step's internal warm-up event (LambdaWarmer): not an API Gateway event, it has no `httpMethod`. */
export interface WarmUpEvent {
  [WARM_UP_EVENT_FIELD]: WarmUpRequest;
}

export const isWarmUpEvent = (e: unknown): e is WarmUpEvent =>
  typeof e === 'object' && e !== null && WARM_UP_EVENT_FIELD in e && !('httpMethod' in e);

/**
 * The serving function's entry: predict requests from API Gateway, and the warm-up event,
 * answered with the {@link WarmUpResult} of this execution environment (a malformed warm-up
 * is a result that is not ok, naming the field).
 */
export function servingHandler(container: ContainerProvider) {
  const http = build(container);
  async function serve(event: WarmUpEvent, context: Context): Promise<WarmUpResult>;
  async function serve(event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult>;
  async function serve(event: APIGatewayProxyEvent | WarmUpEvent, context: Context): Promise<APIGatewayProxyResult | WarmUpResult> {
    if (!isWarmUpEvent(event)) return http(event, context);
    const w = event[WARM_UP_EVENT_FIELD];
    try {
      return await (await container()).serving.warmUp(w);
    } catch (e) {
      if (!(e instanceof AegisError) || !e.expose) throw e;
      return { ok: false, answered: 0, requests: Number(w?.requests) || 0, inputs: 'synthetic', reason: e.message };
    }
  }
  return serve;
}

export const handler = servingHandler(servingLambdaContainer);
