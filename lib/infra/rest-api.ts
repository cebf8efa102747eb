import { Aws, CfnRule, Fn, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { ErrorCode } from '../kernel/errors.js';
import { ROUTES, routePaths, type RouteSpec } from '../platform/http/routes.js';
import { SERVING_ROUTES } from '../platform/http/routes/serving.js';
import { acknowledge } from './acknowledge.js';
import { API_ROUTE_IDS, type ApiRouteId } from './api-functions.js';
import { checkMutualTlsDomain, type MutualTlsDomain } from './mutual-tls.js';

/** API Gateway's own refusals, mapped onto Aegis error codes (see lib/kernel/errors.ts). */
const GATEWAY_ERRORS: readonly [apigw.ResponseType, ErrorCode, string, string?][] = [
  [apigw.ResponseType.BAD_REQUEST_BODY, 'VALIDATION_FAILED', 'body: a JSON object is required', 'body'],
  [apigw.ResponseType.BAD_REQUEST_PARAMETERS, 'VALIDATION_FAILED', 'a required path parameter is missing'],
  [apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, 'UNAUTHENTICATED', 'no such route, or the request is not signed with SigV4'],
  [apigw.ResponseType.INVALID_SIGNATURE, 'UNAUTHENTICATED', 'the SigV4 signature does not match'],
  [apigw.ResponseType.EXPIRED_TOKEN, 'UNAUTHENTICATED', 'the AWS credentials have expired'],
  [apigw.ResponseType.ACCESS_DENIED, 'FORBIDDEN', 'this principal may not call this route'],
];

/** API Gateway's token bucket: steady requests per second and the burst above it. */
export interface Throttle {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

/** The stage's throttle when none is given: every route without a throttle of its own. */
export const DEFAULT_STAGE_THROTTLE: Throttle = { rateLimit: 50, burstLimit: 100 };
/**
 * The public routes' throttle when none is given (each public method has its own bucket):
 * anyone on the internet may call them, so they get a small share of what signed callers get.
 */
export const DEFAULT_PUBLIC_THROTTLE: Throttle = { rateLimit: 5, burstLimit: 10 };

function checkThrottle(name: string, t: Throttle): void {
  if (!(t.rateLimit > 0 && Number.isInteger(t.burstLimit) && t.burstLimit >= 1))
    throw new Error(`${name} needs rateLimit > 0 and a whole burstLimit >= 1`);
}

/**
 * The serving routes' throttle when none is given (each serving method has its own bucket,
 * apart from the stage's): predictions are the API's traffic, registry calls are not.
 */
export const DEFAULT_SERVING_THROTTLE: Throttle = { rateLimit: 100, burstLimit: 200 };

/** The stage's throttle, the public routes' own, and the serving routes' own. */
export interface ApiThrottling {
  readonly stage?: Throttle;
  readonly public?: Throttle;
  readonly serving?: Throttle;
}

export interface AegisRestApiProps {
  /** The function behind each API route. */
  readonly handlers: Readonly<Record<ApiRouteId, lambda.IFunction>>;
  /** @default 'api' */
  readonly stageName?: string;
  /**
   * API Gateway throttling: `stage` for the whole stage (every signed route), `public` for each
   * public (unauthenticated) method — `/healthz`, `/openapi.json` — on its own bucket, no higher
   * than the stage's: a flood of anonymous calls is refused (429) there and leaves the signed
   * routes their share.
   *
   * `serving` for each serving method (predictions), on its own bucket apart from the stage's.
   *
   * @default { stage: DEFAULT_STAGE_THROTTLE, public: DEFAULT_PUBLIC_THROTTLE, serving: DEFAULT_SERVING_THROTTLE } (50/s burst 100; 5/s burst 10; 100/s burst 200)
   */
  readonly throttling?: ApiThrottling;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly accessLogRetention?: logs.RetentionDays;
  /**
   * Create the role API Gateway writes CloudWatch logs with and set it on the account (one
   * setting per account and region). Set false where the account already has one.
   *
   * @default true
   */
  readonly manageAccountLoggingRole?: boolean;
  /**
   * Serve the API on a REGIONAL custom domain that requires mutual TLS, mapped at its root
   * to the stage, and disable the default execute-api endpoint so clients cannot bypass it.
   *
   * @default - no custom domain; the execute-api endpoint serves the API
   */
  readonly mutualTls?: MutualTlsDomain;
}

/**
 * The REST API built from the route table (`lib/platform/http/routes.ts`): one method per route,
 * SigV4 (IAM) authorization except on public routes, request validation, JSON access logs,
 * X-Ray tracing and throttling on the stage; optionally a custom domain with mutual TLS as
 * the only way in.
 *
 * @example
 * const api = new AegisRestApi(this, 'Api', { handlers: { health: healthFn, ... } });
 * api.api.url;
 */
/**
 * `/<path>/<METHOD>` → the public throttle, for every path (aliases too) of every public route,
 * and the serving throttle for every serving route.
 */
function methodThrottles(publicThrottle: Throttle, servingThrottle: Throttle): Record<string, apigw.MethodDeploymentOptions> {
  const out: Record<string, apigw.MethodDeploymentOptions> = {};
  const serving = new Set<string>(Object.keys(SERVING_ROUTES));
  for (const routeId of API_ROUTE_IDS) {
    const route: RouteSpec = ROUTES[routeId];
    const t = route.roles === 'public' ? publicThrottle : serving.has(routeId) ? servingThrottle : undefined;
    if (!t) continue;
    for (const { path } of routePaths(route))
      out[`${path}/${route.method}`] = { throttlingRateLimit: t.rateLimit, throttlingBurstLimit: t.burstLimit };
  }
  return out;
}

/** The cdk-nag findings every API method carries by design, acknowledged with their reasons. */
function acknowledgeAccess(method: apigw.Method, isPublic: boolean): void {
  if (isPublic) {
    acknowledge(method, {
      id: 'AwsSolutions-APIG4',
      reason:
        'Public by design: health checks and the OpenAPI document carry no registry data and must be reachable without AWS credentials.',
    });
  }
  acknowledge(method, {
    id: 'AwsSolutions-COG4',
    reason: isPublic
      ? 'Public by design: health checks and the OpenAPI document carry no registry data, so no user pool authorizer applies.'
      : 'Callers are AWS IAM principals signing with SigV4 (AWS_IAM authorization), mapped to Aegis roles by AEGIS_IAM_ROLE_MAP; there are no Cognito users.',
  });
}

export class AegisRestApi extends Construct {
  public readonly api: apigw.RestApi;
  public readonly accessLogGroup: logs.LogGroup;
  public readonly methods: Readonly<Record<ApiRouteId, apigw.Method>>;
  /** The custom domain with mutual TLS; present only when {@link AegisRestApiProps.mutualTls} is given. */
  public readonly domainName: apigw.DomainName | undefined;
  /** The base URL clients use: the custom domain's with mutual TLS, the stage's execute-api URL without. */
  public readonly url: string;
  /** The stage's name as a literal (`api`): the stage's own `stageName` is a reference to it. */
  public readonly stageName: string;
  private readonly gatewayResponses: apigw.GatewayResponse[] = [];

  constructor(scope: Construct, id: string, props: AegisRestApiProps) {
    super(scope, id);
    const throttling = props.throttling?.stage ?? DEFAULT_STAGE_THROTTLE;
    const publicThrottling = props.throttling?.public ?? DEFAULT_PUBLIC_THROTTLE;
    checkThrottle('throttling.stage', throttling);
    checkThrottle('throttling.public', publicThrottling);
    const servingThrottling = props.throttling?.serving ?? DEFAULT_SERVING_THROTTLE;
    checkThrottle('throttling.serving', servingThrottling);
    if (publicThrottling.rateLimit > throttling.rateLimit || publicThrottling.burstLimit > throttling.burstLimit)
      throw new Error(
        `throttling.public (${publicThrottling.rateLimit}/s, burst ${publicThrottling.burstLimit}) must not exceed the stage's (${throttling.rateLimit}/s, burst ${throttling.burstLimit})`,
      );
    const manageRole = props.manageAccountLoggingRole ?? true;
    const stackRegion = Stack.of(this).region;
    const mtls = props.mutualTls && {
      ...props.mutualTls,
      ...checkMutualTlsDomain(props.mutualTls, Token.isUnresolved(stackRegion) ? undefined : stackRegion),
    };

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.stageName = props.stageName ?? 'api';
    this.api = new apigw.RestApi(this, 'RestApi', {
      description: 'Aegis model registry',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      // With mutual TLS the custom domain is the only way in: the default endpoint would skip it.
      // (Left out otherwise, so templates without mTLS stay as they were.)
      ...(mtls && { disableExecuteApiEndpoint: true }),
      cloudWatchRole: manageRole,
      // Other stacks in the account rely on the account-wide setting: never delete the role.
      ...(manageRole && { cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN }),
      deployOptions: {
        stageName: this.stageName,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields({
          caller: true,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: true,
        }),
        tracingEnabled: true,
        metricsEnabled: true,
        // Errors only, and never bodies: requests carry manifests and signatures.
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        throttlingRateLimit: throttling.rateLimit,
        throttlingBurstLimit: throttling.burstLimit,
        methodOptions: methodThrottles(publicThrottling, servingThrottling),
      },
    });
    acknowledge(this.api, {
      id: 'AwsSolutions-APIG3',
      reason:
        'Callers sign with SigV4 and the stage is throttled; a WAF web ACL can be associated per environment when the API is exposed beyond IAM principals.',
    });
    if (manageRole) {
      acknowledge(this.api, {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          'The account-level API Gateway logging role needs exactly the AWS managed push-to-CloudWatch policy that API Gateway documents for it.',
      });
    }

    const validator = this.api.addRequestValidator('Validator', { validateRequestBody: true, validateRequestParameters: true });
    // Every POST body is a JSON object; the handlers validate the fields.
    const jsonObject = this.api.addModel('JsonObject', {
      contentType: 'application/json',
      modelName: 'JsonObject',
      schema: { schema: apigw.JsonSchemaVersion.DRAFT4, title: 'JsonObject', type: apigw.JsonSchemaType.OBJECT },
    });

    // Errors API Gateway answers itself get the handlers' `{ error: { code, message, field, requestId } }` shape.
    for (const [type, code, message, field] of GATEWAY_ERRORS) {
      const response = this.api.addGatewayResponse(type.responseType, {
        type,
        templates: {
          'application/json': JSON.stringify({ error: { code, message, ...(field && { field }), requestId: '$context.requestId' } }),
        },
      });
      this.gatewayResponses.push(response);
    }

    const methods = {} as Record<ApiRouteId, apigw.Method>;
    for (const routeId of API_ROUTE_IDS) {
      const route: RouteSpec = ROUTES[routeId];
      const isPublic = route.roles === 'public';
      // one integration for the route's path and its deprecated aliases: the same function answers both.
      // One invoke permission per function, for this API (not one per method: routes share functions,
      // and API Gateway invokes a function only for the methods integrated with it).
      const integration = new apigw.LambdaIntegration(props.handlers[routeId], { scopePermissionToMethod: false });
      for (const { path, deprecated } of routePaths(route)) {
        const pathParameters = [...path.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!);
        const method = this.api.root.resourceForPath(path).addMethod(route.method, integration, {
          operationName: deprecated ? `${route.id}Deprecated` : route.id,
          authorizationType: isPublic ? apigw.AuthorizationType.NONE : apigw.AuthorizationType.IAM,
          requestValidator: validator,
          requestParameters: Object.fromEntries(pathParameters.map((p) => [`method.request.path.${p}`, true])),
          ...(route.method !== 'GET' && { requestModels: { 'application/json': jsonObject } }),
        });
        if (!deprecated) methods[routeId] = method;
        acknowledgeAccess(method, isPublic);
      }
    }
    this.methods = methods;

    if (mtls) {
      this.domainName = new apigw.DomainName(this, 'CustomDomain', {
        domainName: mtls.domainName,
        certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', mtls.certificateArn),
        endpointType: apigw.EndpointType.REGIONAL,
        securityPolicy: apigw.SecurityPolicy.TLS_1_2,
        mtls: {
          bucket: s3.Bucket.fromBucketName(this, 'Truststore', mtls.truststoreBucket),
          key: mtls.truststoreKey,
          ...(mtls.truststoreVersion !== undefined && { version: mtls.truststoreVersion }),
        },
      });
      // The domain's root is the stage: https://<domainName>/healthz.
      this.domainName.addBasePathMapping(this.api, { stage: this.api.deploymentStage });
      if (Token.isUnresolved(stackRegion)) {
        // Environment-agnostic stack: refuse, before any change, a deploy to another region than the certificate's.
        new CfnRule(this, 'CertificateRegion', {
          assertions: [
            {
              assert: Fn.conditionEquals(Aws.REGION, mtls.certificateRegion),
              assertDescription: `The mTLS certificate ${mtls.certificateArn} is in ${mtls.certificateRegion}: deploy this stack there, or use a certificate from this region`,
            },
          ],
        });
      }
      this.url = `https://${mtls.domainName}/`;
    } else {
      this.domainName = undefined;
      this.url = this.api.url;
    }
  }

  /** Lets a browser on `origin` read the errors shaped above (the preflights and default 4xx/5xx: `ConsoleCors`). */
  allowOrigin(origin: string): void {
    const headers = { 'gatewayresponse.header.Access-Control-Allow-Origin': `'${origin}'`, 'gatewayresponse.header.Vary': "'Origin'" };
    for (const response of this.gatewayResponses) (response.node.defaultChild as apigw.CfnGatewayResponse).responseParameters = headers;
    // gateway responses take effect with a deployment: a new one, made once they are updated
    this.api.latestDeployment?.addToLogicalId({ allowOrigin: origin });
    this.api.latestDeployment?.node.addDependency(...this.gatewayResponses);
  }
}
