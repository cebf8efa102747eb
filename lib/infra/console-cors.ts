import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { Construct } from 'constructs';
import { ROUTES, routePaths, type RouteSpec } from '../platform/http/routes.js';
import { API_ROUTE_IDS } from './api-functions.js';

/** The request headers a browser's SigV4-signed call sends besides the simple ones. */
export const CONSOLE_REQUEST_HEADERS = [
  'authorization',
  'content-type',
  'idempotency-key',
  'x-amz-content-sha256',
  'x-amz-date',
  'x-amz-security-token',
] as const;

/** Every path of the REST API (deprecated aliases included; no local-only route) with the methods served there. */
export function apiPathMethods(): ReadonlyMap<string, readonly string[]> {
  const out = new Map<string, string[]>();
  for (const route of API_ROUTE_IDS.map((id): RouteSpec => ROUTES[id])) {
    for (const { path } of routePaths(route)) out.set(path, [...(out.get(path) ?? []), route.method]);
  }
  return out;
}

export interface ConsoleCorsProps {
  readonly api: apigw.IRestApi;
  /** `https://<distribution domain>`: the only origin allowed. */
  readonly origin: string;
}

/**
 * Cross-origin access for the console, which calls the API from the CloudFront origin: an
 * unauthenticated OPTIONS (a MOCK integration, no function) on every API path answering the
 * preflight for that one origin, and the origin on API Gateway's default 4xx and 5xx answers
 * (throttling, a missing route) so the browser shows them. The handlers add the origin to their
 * own answers (`AEGIS_CONSOLE_ORIGIN`, `lib/platform/http/cors.ts`) and `AegisRestApi.allowOrigin`
 * to the gateway errors it shapes. Built in the console's nested stack: the parent stack's
 * resource count stays put.
 */
export class ConsoleCors extends Construct {
  /** The preflight methods, by path. */
  public readonly preflights: ReadonlyMap<string, apigw.CfnMethod>;

  constructor(scope: Construct, id: string, props: ConsoleCorsProps) {
    super(scope, id);
    const allowOrigin = `'${props.origin}'`;
    const preflights = new Map<string, apigw.CfnMethod>();
    for (const [path, methods] of apiPathMethods()) {
      const headers = {
        'Access-Control-Allow-Origin': allowOrigin,
        'Access-Control-Allow-Methods': `'${[...new Set([...methods, 'OPTIONS'])].join(',')}'`,
        'Access-Control-Allow-Headers': `'${CONSOLE_REQUEST_HEADERS.join(',')}'`,
        'Access-Control-Max-Age': "'600'",
        Vary: "'Origin'",
      };
      const param = (h: string) => `method.response.header.${h}`;
      const method = new apigw.CfnMethod(this, `Preflight${path.replace(/[^A-Za-z0-9]/g, '')}`, {
        restApiId: props.api.restApiId,
        resourceId: props.api.root.resourceForPath(path).resourceId,
        httpMethod: 'OPTIONS',
        authorizationType: 'NONE',
        apiKeyRequired: false,
        integration: {
          type: 'MOCK',
          requestTemplates: { 'application/json': '{ "statusCode": 204 }' },
          integrationResponses: [
            { statusCode: '204', responseParameters: Object.fromEntries(Object.entries(headers).map(([h, v]) => [param(h), v])) },
          ],
        },
        methodResponses: [{ statusCode: '204', responseParameters: Object.fromEntries(Object.keys(headers).map((h) => [param(h), true])) }],
      });
      preflights.set(path, method);
    }
    this.preflights = preflights;
    for (const type of [apigw.ResponseType.DEFAULT_4XX, apigw.ResponseType.DEFAULT_5XX]) {
      new apigw.CfnGatewayResponse(this, `Gateway${type.responseType}`, {
        restApiId: props.api.restApiId,
        responseType: type.responseType,
        responseParameters: {
          'gatewayresponse.header.Access-Control-Allow-Origin': allowOrigin,
          'gatewayresponse.header.Vary': "'Origin'",
        },
      });
    }
    // cdk-nag raises no APIG4 or COG4 on OPTIONS methods: preflights carry no credentials by the Fetch standard
  }
}
