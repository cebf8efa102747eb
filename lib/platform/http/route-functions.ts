/**
 * Which Lambda function serves each API route on AWS. Routes with the same grants, the same
 * bundle (Cedar and policies, the ONNX runtime) and the same settings share one function: one
 * role, log group, alarm and warm pool instead of one per route. Least privilege is unchanged —
 * the stack refuses to synthesize a function whose routes differ in what they need
 * (`lib/infra/api-functions.ts`) — and CloudFormation's 500-resource limit stays far away.
 * Each function's handler is `lambdas/api/<kebab-name>.ts`, dispatching on the API Gateway
 * event's method and resource path ({@link apiFunction}). The local server does not use this: it
 * calls each route's handler directly.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { ROUTES, routePaths, type RouteId } from './routes.js';

/** Routes deployed to AWS: every route except the local server's own. */
export type ApiRouteId = { [K in RouteId]: (typeof ROUTES)[K] extends { localOnly: true } ? never : K }[RouteId];

export const API_ROUTE_IDS = (Object.keys(ROUTES) as RouteId[]).filter(
  (id): id is ApiRouteId => !('localOnly' in ROUTES[id] && ROUTES[id].localOnly),
);

/** The function of each API route (see the module comment for what may share one). */
export const ROUTE_FUNCTION = {
  // the database only, read: liveness, readiness, the API description, records, lineage, the audit list
  health: 'reads',
  readyz: 'reads',
  openapi: 'reads',
  keysList: 'reads',
  modelsList: 'reads',
  versionsList: 'reads',
  versionGet: 'reads',
  artifactGet: 'reads',
  verifyManifest: 'reads',
  datasetGet: 'reads',
  lineageGet: 'reads',
  promotionsByArtifact: 'reads',
  promotionGet: 'reads',
  quarantineGet: 'reads',
  auditList: 'reads',
  whoami: 'reads',
  registrationGet: 'reads',
  // changes recorded in the database with a signed audit event, nothing else
  keysEnroll: 'auditedChanges',
  keysRevoke: 'auditedChanges',
  modelTeamSet: 'auditedChanges',
  datasetsCreate: 'auditedChanges',
  promotionCancel: 'auditedChanges',
  driftSuggestionAccept: 'auditedChanges',
  driftSuggestionDismiss: 'auditedChanges',
  keysRotate: 'keysRotate',
  uploadsCreate: 'uploadsCreate',
  // lists a multipart upload's parts and presigns UploadPart: the same bucket access as presigning the upload
  uploadParts: 'uploadsCreate',
  register: 'register',
  // the bytes in the request: written beside the sidecars (the same grants as register)
  registerInline: 'register',
  artifactValidate: 'validate',
  versionValidate: 'validate',
  artifactDownload: 'downloads',
  versionDownload: 'downloads',
  envDownload: 'downloads',
  lineageBundle: 'lineageBundle',
  // the policy-deciding routes that may start a rollout (Cedar, policies, the rollout state machines)
  promote: 'promotions',
  promoteVersion: 'promotions',
  rollback: 'promotions',
  quarantine: 'promotions',
  quarantineApprove: 'promotions',
  // the promotion writes that start a rollout but decide no policy: the approval completing a
  // quorum, and an abort (it starts the rollback state machine that takes the rollout over)
  promotionApprove: 'promotionApprove',
  promotionAbort: 'promotionApprove',
  quarantineRelease: 'quarantineRelease',
  auditVerify: 'auditVerify',
  auditArchive: 'auditArchive',
  // its own memory, concurrency, the ONNX runtime and its log group (the serving events)
  servingPredict: 'servingPredict',
  // label feedback and the deployment's status: the serving telemetry, the database only
  servingFeedback: 'servingTelemetry',
  servingStatus: 'servingTelemetry',
  // records a drift run and starts the drift state machine (states:StartExecution on it alone)
  driftRunRequest: 'driftRuns',
  // the drift pipeline's records: runs, the report index, suggestions (the database only; apart from
  // `reads`, whose description — the list of its routes — would pass Lambda's 256 characters)
  driftRunGet: 'driftReads',
  driftReportsList: 'driftReads',
  driftSuggestionsList: 'driftReads',
  driftSuggestionGet: 'driftReads',
  // a stored report, read back from the drift store (`drift-reports/`) and checked against its indexed sha256
  driftReportGet: 'driftReports',
  // webhook subscriptions: audited changes (the create resolves the URL's host against the address rules)
  webhooksCreate: 'webhooks',
  webhookDelete: 'webhooks',
  webhookSecret: 'webhooks',
  // their records and delivery state (the database only), and the test delivery (an outbound POST)
  webhooksList: 'webhookRecords',
  webhookGet: 'webhookRecords',
  webhookDeliveries: 'webhookRecords',
  webhookReplay: 'webhookRecords',
  webhookTest: 'webhookRecords',
  // the long poll holds its request up to 25 s: apart, so it takes no other route's concurrency
  eventsTail: 'eventsTail',
} as const satisfies Record<ApiRouteId, string>;

export type ApiFunctionName = (typeof ROUTE_FUNCTION)[ApiRouteId];

/** Every API function, in the order its first route is declared. */
export const API_FUNCTION_NAMES: readonly ApiFunctionName[] = [...new Set(API_ROUTE_IDS.map((id) => ROUTE_FUNCTION[id]))];

/** The routes one function serves, in route-table order. */
export type RoutesOf<N extends ApiFunctionName> = { [K in ApiRouteId]: (typeof ROUTE_FUNCTION)[K] extends N ? K : never }[ApiRouteId];
export const routesOf = <N extends ApiFunctionName>(name: N): RoutesOf<N>[] =>
  API_ROUTE_IDS.filter((id): id is RoutesOf<N> => ROUTE_FUNCTION[id] === name);

/** The handler file of a function, relative to the project root: `lambdas/api/audited-changes.ts`. */
export const apiFunctionEntry = (name: ApiFunctionName): string => `lambdas/api/${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}.ts`;

type LambdaHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/**
 * One function's Lambda handler: the route handler whose method and path (its own or a
 * deprecated alias) match the event's `httpMethod` and `resource`. API Gateway only sends a
 * function the methods integrated with it, so no match means the deployment and the code
 * disagree: answered 404 `ROUTE_NOT_FOUND` naming both, never another route's handler.
 *
 * @example
 * export const handler = apiFunction('validate', { artifactValidate: artifactValidate.handler, versionValidate: versionValidate.handler });
 */
export function apiFunction<N extends ApiFunctionName>(name: N, handlers: { readonly [K in RoutesOf<N>]: LambdaHandler }): LambdaHandler {
  const table = new Map<string, LambdaHandler>();
  for (const id of routesOf(name)) {
    const route = ROUTES[id];
    for (const { path } of routePaths(route)) table.set(`${route.method} ${path}`, handlers[id]);
  }
  const extra = Object.keys(handlers).filter((id) => ROUTE_FUNCTION[id as ApiRouteId] !== name);
  if (extra.length > 0) throw new Error(`the ${name} function does not serve ${extra.join(', ')} (lib/platform/http/route-functions.ts)`);
  return async (event, context) => {
    const handler = table.get(`${event.httpMethod} ${event.resource}`);
    if (handler) return handler(event, context);
    const requestId = event.requestContext?.requestId ?? context?.awsRequestId ?? randomUUID();
    return {
      statusCode: 404,
      headers: { 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({
        error: {
          code: 'ROUTE_NOT_FOUND',
          message: `the ${name} function serves no route ${event.httpMethod} ${event.resource}`,
          requestId,
        },
      }),
    };
  };
}
