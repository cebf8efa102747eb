import { AegisError } from '../lib/kernel/errors.js';
import { REQUEST_ID_PATTERN } from '../lib/modules/serving/domain.js';
import { httpHandler, type ContainerProvider } from '../lib/platform/http/handler.js';
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

export const handler = build(servingLambdaContainer);
