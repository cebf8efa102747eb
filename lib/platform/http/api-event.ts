import type { IncomingMessage } from 'node:http';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';

/** What the local server knows of a request once it has matched a route. */
export interface LocalRequest {
  req: IncomingMessage;
  url: URL;
  /** the route's path pattern, e.g. `/v1/registry/{artifactId}` */
  resource: string;
  pathParameters: Record<string, string>;
  body: string | null;
  requestId: string;
}

/** Builds the API Gateway REST proxy event a Lambda would receive for this request. */
export function toApiGatewayEvent(r: LocalRequest): APIGatewayProxyEvent {
  const { req, url, resource } = r;
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) {
    query[k] = v;
    (multiQuery[k] ??= []).push(v);
  }
  return {
    resource,
    path: url.pathname,
    httpMethod: req.method ?? 'GET',
    ...headersOf(req),
    queryStringParameters: url.searchParams.size ? query : null,
    multiValueQueryStringParameters: url.searchParams.size ? multiQuery : null,
    pathParameters: Object.keys(r.pathParameters).length ? r.pathParameters : null,
    stageVariables: null,
    body: r.body,
    isBase64Encoded: false,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${req.httpVersion}`,
      httpMethod: req.method ?? 'GET',
      identity: identityOf(req),
      path: url.pathname,
      stage: 'local',
      requestId: r.requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: resource,
    },
  };
}

function headersOf(req: IncomingMessage): Pick<APIGatewayProxyEvent, 'headers' | 'multiValueHeaders'> {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    const values = Array.isArray(v) ? v : [v];
    headers[k] = values.join(',');
    multiValueHeaders[k] = values;
  }
  return { headers, multiValueHeaders };
}

/** The caller as API Gateway describes it: locally only the address and user agent are known (no IAM identity). */
function identityOf(req: IncomingMessage): APIGatewayProxyEvent['requestContext']['identity'] {
  return {
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
    userAgent: req.headers['user-agent'] ?? null,
    accessKey: null,
    accountId: null,
    apiKey: null,
    apiKeyId: null,
    caller: null,
    clientCert: null,
    cognitoAuthenticationProvider: null,
    cognitoAuthenticationType: null,
    cognitoIdentityId: null,
    cognitoIdentityPoolId: null,
    principalOrgId: null,
    user: null,
    userArn: null,
  };
}

export function lambdaContext(functionName: string, requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
