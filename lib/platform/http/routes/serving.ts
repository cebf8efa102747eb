import { EnvParams, PredictBody, PredictReply } from '../schemas.js';
import type { RouteSpec } from './spec.js';

export const SERVING_ROUTES = {
  servingPredict: {
    id: 'servingPredict',
    method: 'POST',
    path: '/v1/serving/{model}/{env}/predict',
    entry: 'lambdas/serving-predict.ts',
    roles: ['invoker', 'admin'],
    scope: { by: 'model' },
    summary:
      'Predict with the model deployed in an environment: the canary or the stable by the canary assignment (subjectId, else the request id); only verified artifacts answer (503 ARTIFACT_UNVERIFIED, UNSUPPORTED_FORMAT or ARTIFACT_UNLOADABLE otherwise); headers X-Aegis-Artifact-Id, X-Aegis-Variant, X-Aegis-Manifest-Signature-Id name who answered',
    request: { params: EnvParams, body: PredictBody },
    reply: { schema: PredictReply, status: { 200: 'one prediction per input row' } },
  },
} as const satisfies Record<string, RouteSpec>;
