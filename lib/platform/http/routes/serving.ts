import { ANY_ROLE } from './spec.js';
import { EnvParams, FeedbackBody, FeedbackReply, PredictBody, PredictReply, ServingStatusQuery, ServingStatusReply } from '../schemas.js';
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
  servingFeedback: {
    id: 'servingFeedback',
    method: 'POST',
    path: '/v1/serving/{model}/{env}/feedback',
    entry: 'lambdas/serving-feedback.ts',
    roles: ['invoker', 'admin'],
    scope: { by: 'model' },
    summary:
      'Label feedback for served requests (1-500 items): stored all or none; the same label again is a no-op, another label for a labelled request 409 naming items.<i>.label; a request id not (yet) served is kept and joins when its event exists. Quality is joined on read; not audited',
    request: { params: EnvParams, body: FeedbackBody },
    reply: { schema: FeedbackReply, status: { 202: 'the labels are stored (accepted) or were already (unchanged)' } },
  },
  servingStatus: {
    id: 'servingStatus',
    method: 'GET',
    path: '/v1/serving/{model}/{env}/status',
    entry: 'lambdas/serving-status.ts',
    roles: ANY_ROLE,
    scope: { by: 'model' },
    summary:
      "A deployment's canary status: the split, per-variant requests, errors, latency p50/p99 and quality over the last windowMinutes (default 60), and the last verdicts of its promotion",
    request: { params: EnvParams, query: ServingStatusQuery },
    reply: { schema: ServingStatusReply, status: { 200: 'the status' } },
  },
} as const satisfies Record<string, RouteSpec>;
