/**
 * The Aegis API as the console on AWS reaches it, for the browser suites: API Gateway's part
 * (the OPTIONS preflights of ConsoleCors, IAM authorization by SigV4 with `verifySigV4` from the
 * API Gateway emulator, its refusals in the shape rest-api.ts gives them, with the console's
 * origin as ConsoleCors adds it) in front of the real route handlers, called in-process with
 * the proxy event API Gateway builds for a Cognito identity-pool caller and the AWS mode's
 * IamAuthenticator over the role map.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HANDLER_BUILDERS } from '../../lambdas/index.js';
import type { RoleGrant } from '../../lib/kernel/identity.js';
import { CONSOLE_REQUEST_HEADERS } from '../../lib/infra/console-cors.js';
import { IamAuthenticator } from '../../lib/platform/adapters/auth/iam.js';
import type { Container } from '../../lib/platform/composition/container.js';
import { lambdaContext, toApiGatewayEvent } from '../../lib/platform/http/api-event.js';
import type { LambdaHandler } from '../../lib/platform/http/handler.js';
import { ROUTES, routePaths, type RouteId, type RouteSpec } from '../../lib/platform/http/routes.js';
import { verifySigV4, type IamIdentity } from '../aws/support/api-gateway.js';

export interface ConsoleApiOptions {
  container: Container;
  region: string;
  stage: string;
  /** the console's origin: the one CORS allows */
  consoleOrigin: string;
  /** access key id → the IAM principal behind it */
  identities: Record<string, IamIdentity>;
  /** IAM role ARN → Aegis role (AEGIS_IAM_ROLE_MAP) */
  roleMap: Record<string, RoleGrant>;
  /** the Cognito sign-in behind an access key (`cognitoAuthenticationProvider`), as the identity pool recorded it */
  cognitoProvider: (accessKeyId: string) => string | undefined;
}

export interface ApiCall {
  method: string;
  path: string;
  status: number;
  /** the access key of a verified signature, or why it was refused */
  signedBy?: string;
  refused?: string;
}

interface Compiled {
  route: RouteSpec;
  path: string;
  pattern: RegExp;
  params: string[];
  handler: LambdaHandler;
}

export class ConsoleApi {
  readonly calls: ApiCall[] = [];
  private readonly routes: Compiled[];

  constructor(private readonly opts: ConsoleApiOptions) {
    const container = {
      ...opts.container,
      auth: new IamAuthenticator(opts.roleMap),
      config: { ...opts.container.config, consoleOrigin: opts.consoleOrigin },
    };
    const provider = () => Promise.resolve(container as Container);
    this.routes = (Object.entries(ROUTES) as [RouteId, RouteSpec][])
      .flatMap(([id, route]) =>
        routePaths(route).map(({ path }) => {
          const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
          const pattern = new RegExp(`^${path.replace(/\{\w+\}/g, '([^/]+)')}$`);
          return { route, path, pattern, params, handler: HANDLER_BUILDERS[id].build(provider) };
        }),
      )
      .sort((a, b) => a.params.length - b.params.length);
  }

  async handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const { stage, consoleOrigin, region } = this.opts;
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'https://api.invalid');
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const path = url.pathname.startsWith(`/${stage}/`) ? url.pathname.slice(stage.length + 1) : '';
    const matches = this.routes.filter((r) => r.pattern.test(path));
    const cors = { 'access-control-allow-origin': consoleOrigin, vary: 'Origin' };
    const refuse = (status: number, code: string, message: string) => {
      this.calls.push({ method, path, status, refused: message.split('\n')[0] });
      res.writeHead(status, { 'content-type': 'application/json', ...cors });
      res.end(JSON.stringify({ error: { code, message, requestId: randomUUID() } }));
    };
    if (method === 'OPTIONS') {
      if (!matches.length) return refuse(403, 'UNAUTHENTICATED', 'no such route, or the request is not signed with SigV4');
      const methods = [...new Set([...matches.map((m) => m.route.method), 'OPTIONS'])];
      res.writeHead(204, {
        ...cors,
        'access-control-allow-methods': methods.join(','),
        'access-control-allow-headers': CONSOLE_REQUEST_HEADERS.join(','),
        'access-control-max-age': '600',
      });
      return void res.end();
    }
    const hit = matches.find((m) => m.route.method === method);
    if (!hit) return refuse(403, 'UNAUTHENTICATED', 'no such route, or the request is not signed with SigV4');
    const pairs: [string, string][] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
    const outcome = await verifySigV4(
      { method, rawPath, query: url.searchParams, headers: pairs, body },
      { identities: this.opts.identities, region },
    );
    if (!outcome.ok) return refuse(403, 'UNAUTHENTICATED', outcome.message);
    const requestId = randomUUID();
    const params = Object.fromEntries(hit.params.map((name, i) => [name, decodeURIComponent(hit.pattern.exec(path)![i + 1]!)]));
    const event = toApiGatewayEvent({
      req,
      url: new URL(`${path}${url.search}`, 'https://api.invalid'),
      resource: hit.path,
      pathParameters: params,
      body: method === 'GET' ? null : body.toString('utf8'),
      requestId,
    });
    event.requestContext.stage = stage;
    event.requestContext.identity = {
      ...event.requestContext.identity,
      accessKey: outcome.accessKeyId,
      userArn: outcome.identity.arn,
      cognitoAuthenticationType: 'authenticated',
      cognitoAuthenticationProvider: this.opts.cognitoProvider(outcome.accessKeyId) ?? null,
    };
    const result = await hit.handler(event, lambdaContext(`aegis-${hit.route.id}`, requestId));
    this.calls.push({ method, path, status: result.statusCode, signedBy: outcome.accessKeyId });
    res.writeHead(result.statusCode, result.headers as Record<string, string>);
    res.end(result.body);
  }
}
