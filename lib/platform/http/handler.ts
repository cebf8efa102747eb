import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type * as z from 'zod';
import { AegisError, SHOWN_FAULTS } from '../../kernel/errors.js';
import { formatJsonPath, JsonInputError, parseJsonStrict, stringifyJson, type JsonPath } from '../../kernel/json.js';
import { LIMITS } from '../../kernel/manifest.js';
import type { Container } from '../composition/container.js';
import { retryableFault } from './faults.js';
import { corsHeaders } from './cors.js';
import { checkGlobalOnly, checkScope } from './scope.js';
import { StartupCheckError } from '../startup-checks.js';
import type { Principal } from '../../kernel/identity.js';
import { bodyLimit, type ReplyBody, type ReplyStatus, type RouteSpec } from './routes.js';
import { traceRequest } from './request-span.js';
import { containerOrRefusal, type ContainerProvider } from './container-provider.js';
import { withStatementTally } from '../sql/statements.js';
import { annotate, ATTR, idAttributes } from '../tracing/spans.js';

export type { ContainerProvider } from './container-provider.js';

/** A route's function as Lambda invokes it, and as the local server calls it. */
export type LambdaHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** A route's handler file: `build` makes its handler over a container. */
export interface HandlerBuilder {
  build: (c: ContainerProvider) => LambdaHandler;
}

/** The parsed part `K` of a route's request (undefined when the route parses none). */
type Parsed<R extends RouteSpec, K extends 'body' | 'query' | 'params'> = R extends { request: { [P in K]: infer S extends z.ZodType } }
  ? z.output<S>
  : undefined;

export interface HttpRequest<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  headers: Record<string, string>;
  principal: Principal | undefined;
  requestId: string;
}

/** A handler's answer: one of the route's reply statuses, and a body of its reply schema. */
export interface HttpReply<R extends RouteSpec> {
  status: ReplyStatus<R>;
  body: ReplyBody<R>;
  headers?: Record<string, string>;
}

/** A zod failure as a 400 naming the first field at fault (`manifest.codeRef`, `body`). */
export function validationError(error: z.ZodError, root: string): AegisError {
  const issue = error.issues[0]!;
  let path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') path = [...path, issue.keys[0]!];
  const field = [root, ...path]
    .filter(Boolean)
    .join('.')
    .replace(/^body\./, '');
  const message = issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : issue.message;
  return new AegisError('VALIDATION_FAILED', `${field}: ${message}`, { field, details: { issues: error.issues.length } });
}

function parseWith<T extends z.ZodType>(schema: T | undefined, value: unknown, root: string): z.infer<T> | undefined {
  if (!schema) return undefined;
  const r = schema.safeParse(value);
  if (!r.success) throw validationError(r.error, root);
  return r.data;
}

// Serialised without recursion: no stored row, however deep, can make a reply fail.
const json = (status: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult => ({
  statusCode: status,
  headers: { 'content-type': 'application/json', ...headers },
  body: stringifyJson(body),
});

/**
 * The longest prefix of `path` that the body schema declares: `manifest.hyperparams` for a
 * path deep inside the free-form hyperparameters, `schema` for one inside a dataset schema.
 */
export function declaredField(schema: z.ZodType, path: JsonPath): string {
  const out: JsonPath = [];
  let s: z.ZodType | undefined = schema;
  for (const seg of path) {
    while (s) {
      const wrapper: { type: string; innerType?: z.ZodType; in?: z.ZodType } = (
        s as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } } }
      )._zod.def;
      if (
        wrapper.type === 'optional' ||
        wrapper.type === 'nullable' ||
        wrapper.type === 'default' ||
        wrapper.type === 'prefault' ||
        wrapper.type === 'readonly'
      )
        s = wrapper.innerType;
      else if (wrapper.type === 'pipe') s = wrapper.in;
      else break;
    }
    if (!s) break;
    const def: { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType } = (
      s as unknown as { _zod: { def: { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType } } }
    )._zod.def;
    if (def.type === 'object' && typeof seg === 'string' && def.shape && Object.prototype.hasOwnProperty.call(def.shape, seg))
      s = def.shape[seg];
    else if (def.type === 'array' && typeof seg === 'number') s = def.element;
    else break;
    out.push(seg);
  }
  return formatJsonPath(out) || 'body';
}

/** Strict parsing of a request body: bounded nesting, no duplicate keys (a signed document must mean one thing). */
function parseBody(text: string, schema: z.ZodType): unknown {
  try {
    return parseJsonStrict(text, { maxDepth: LIMITS.jsonDepth });
  } catch (e) {
    if (!(e instanceof JsonInputError)) throw e;
    if (e.problem === 'duplicate-key') {
      const field = formatJsonPath(e.path);
      throw new AegisError('DUPLICATE_JSON_KEY', `${field}: the key appears more than once in its object; send each field once`, { field });
    }
    if (e.problem === 'too-deep') {
      const field = declaredField(schema, e.path);
      throw new AegisError('JSON_TOO_DEEP', `${field}: JSON is nested deeper than ${LIMITS.jsonDepth} levels`, {
        field,
        details: { limit: LIMITS.jsonDepth },
      });
    }
    throw new AegisError('INVALID_JSON', `request body is not valid JSON: ${e.message}`, { field: 'body' });
  }
}

function lowerHeaders(h: APIGatewayProxyEvent['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

/**
 * Builds one Lambda handler for a route: error mapping (4xx messages shown, 5xx only a
 * request id), size limit before parsing ({@link bodyLimit}), authentication and role check, zod
 * parsing of body, query and path by the route's request schemas, the scope check (the model the
 * request reaches must be within the caller's scope: `scope.ts`), then the use case, which answers one of
 * the route's reply statuses with a body of its reply schema (types only: the tests check the
 * bodies, production does not parse them again). The local server calls the very same handler.
 */
export function httpHandler<R extends RouteSpec>(
  route: R,
  container: ContainerProvider,
  impl: (req: HttpRequest<Parsed<R, 'body'>, Parsed<R, 'query'>, Parsed<R, 'params'>>, c: Container) => Promise<HttpReply<NoInfer<R>>>,
) {
  const schemas = route.request ?? {};
  const handle = async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    const requestId = event.requestContext?.requestId ?? context?.awsRequestId ?? randomUUID();
    const base: Record<string, string> = { 'x-request-id': requestId, ...deprecationHeaders(route, event) };
    let c: Container | undefined;
    // the statements the request ran: on its span, and in the local server's metrics
    const tallied = (statements: readonly string[]) => {
      annotate({ [ATTR.statements]: statements.length });
      c?.metrics.requestStatements(route.id, statements.length);
    };
    return withStatementTally(async () => {
      try {
        c = await containerOrRefusal(container, requestId);
        Object.assign(base, corsHeaders(c.config.consoleOrigin, event.headers));
        const headers = lowerHeaders(event.headers);
        const principal = await authorize(route, c, event);
        const input = readInput(schemas, event, bodyLimit(route));
        annotate(idAttributes(input.params, input.body));
        await checkScope(route.scope, principal, input, c);
        const req = { ...input, headers, principal, requestId } as HttpRequest<Parsed<R, 'body'>, Parsed<R, 'query'>, Parsed<R, 'params'>>;
        const reply = await impl(req, c);
        annotate(idAttributes(reply.body));
        return json(reply.status, reply.body, { ...base, ...reply.headers });
      } catch (e) {
        if (e instanceof StartupCheckError) throw e;
        return errorReply(e, { route, requestId, base, logger: c?.logger ?? console });
      }
    }, tallied);
  };
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>().handler((event, context) =>
    traceRequest(route, event, () => handle(event, context)),
  );
}

/**
 * A public route's Lambda handler that answers from the process alone: it builds no
 * container, so no adapter is made and no startup check runs — nothing it could depend on is
 * touched (liveness). The local server serves the same route through {@link httpHandler}.
 */
export function standaloneHandler<R extends RouteSpec & { roles: 'public' }>(route: R, reply: () => HttpReply<NoInfer<R>>): LambdaHandler {
  return async (event, context) => {
    const requestId = event.requestContext?.requestId ?? context?.awsRequestId ?? randomUUID();
    const { status, body, headers } = reply();
    return json(status, body, { 'x-request-id': requestId, ...deprecationHeaders(route, event), ...headers });
  };
}

/** The caller, when the route is not public: 401 without a valid identity, 403 without one of the route's roles (or a global scope where the route needs one). */
async function authorize(route: RouteSpec, c: Container, event: APIGatewayProxyEvent): Promise<Principal | undefined> {
  if (route.roles === 'public') return undefined;
  const principal = await c.auth.authenticate(event);
  if (!principal) throw new AegisError('UNAUTHENTICATED', 'missing or invalid credentials', { field: 'Authorization' });
  if (!route.roles.includes(principal.role as never)) {
    throw new AegisError(
      'FORBIDDEN',
      `role ${principal.role} may not call ${route.method} ${route.path} (needs ${route.roles.join(' or ')})`,
    );
  }
  checkGlobalOnly(route.scope, principal);
  annotate({ [ATTR.role]: principal.role });
  return principal;
}

/** Body (size-checked, strictly parsed), query and path parameters, each through its schema. */
function readInput(schemas: { body?: z.ZodType; query?: z.ZodType; params?: z.ZodType }, event: APIGatewayProxyEvent, bodyBytes: number) {
  let rawBody: unknown;
  if (schemas.body) {
    const text = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
    if (Buffer.byteLength(text) > bodyBytes) {
      throw new AegisError('PAYLOAD_TOO_LARGE', `request body exceeds ${bodyBytes} bytes`, { field: 'body' });
    }
    rawBody = text === '' ? undefined : parseBody(text, schemas.body);
    if (rawBody === undefined) throw new AegisError('VALIDATION_FAILED', 'body: a JSON object is required', { field: 'body' });
  }
  return {
    body: parseWith(schemas.body, rawBody, 'body'),
    query: parseWith(schemas.query, event.queryStringParameters ?? {}, 'query'),
    params: parseWith(schemas.params, event.pathParameters ?? {}, ''),
  };
}

/** A failed request's reply: a caller's error with its code and message; a fault as 503 or 500 with only the request id, logged. */
function errorReply(
  e: unknown,
  r: { route: RouteSpec; requestId: string; base: Record<string, string>; logger: Pick<Container['logger'], 'error'> },
): APIGatewayProxyResult {
  const { requestId, base } = r;
  if (e instanceof AegisError && e.expose) {
    const error = {
      code: e.code,
      message: e.message,
      ...(e.field ? { field: e.field } : {}),
      requestId,
      ...(e.details ? { details: e.details } : {}),
    };
    return json(e.status, { error }, base);
  }
  const fault = retryableFault(e);
  const cause = fault?.cause ?? e;
  r.logger.error('request failed', {
    requestId,
    route: r.route.id,
    ...(fault ? { fault: fault.code } : {}),
    error: cause instanceof Error ? { name: cause.name, message: cause.message, stack: cause.stack } : String(cause),
  });
  if (e instanceof AegisError && SHOWN_FAULTS.has(e.code))
    return json(e.status, { error: { code: e.code, message: e.message, requestId } }, base);
  if (fault) {
    // a server-side fault: the caller retries; its code and our own message, never the cause
    return json(503, { error: { code: fault.code, message: fault.message, retryable: true, requestId } }, { ...base, 'retry-after': '1' });
  }
  return json(500, { error: { code: 'INTERNAL', message: 'internal error', requestId } }, base);
}

/**
 * A call through one of the route's deprecated paths (API Gateway's `resource`) is answered
 * as usual, with `Deprecation: true` and a `Link` to the same call on the current path.
 */
function deprecationHeaders(route: RouteSpec, event: APIGatewayProxyEvent): Record<string, string> {
  if (!route.deprecatedPaths?.includes(event.resource)) return {};
  const current = route.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(event.pathParameters?.[name] ?? ''));
  return { deprecation: 'true', link: `<${current}>; rel="successor-version"` };
}
