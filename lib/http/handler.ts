import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import * as z from 'zod';
import { AegisError } from '../core/errors.js';
import { LIMITS } from '../core/manifest.js';
import type { Container } from '../container.js';
import type { Principal } from '../services/registry.js';
import type { RouteSpec } from './routes.js';

export type ContainerProvider = () => Promise<Container>;

export interface RouteSchemas<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType> {
  body?: B;
  query?: Q;
  params?: P;
  /** documented in /openapi.json */
  response?: z.ZodType;
}

export interface HttpRequest<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  headers: Record<string, string>;
  principal: Principal | undefined;
  requestId: string;
}

export interface HttpReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A zod failure as a 400 naming the first field at fault (`manifest.codeRef`, `body`). */
export function validationError(error: z.ZodError, root: string): AegisError {
  const issue = error.issues[0]!;
  let path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') path = [...path, issue.keys[0]!];
  const field = [root, ...path].filter(Boolean).join('.').replace(/^body\./, '');
  const message = issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : issue.message;
  return new AegisError('VALIDATION_FAILED', `${field}: ${message}`, { field, details: { issues: error.issues.length } });
}

function parseWith<T extends z.ZodType>(schema: T | undefined, value: unknown, root: string): z.infer<T> | undefined {
  if (!schema) return undefined;
  const r = schema.safeParse(value);
  if (!r.success) throw validationError(r.error, root);
  return r.data;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult => ({
  statusCode: status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

function lowerHeaders(h: APIGatewayProxyEvent['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

/**
 * Builds one Lambda handler for a route: error mapping (4xx messages shown, 5xx only a
 * request id), size limit before parsing, authentication and role check, zod parsing of
 * body, query and path, then the use case. The local server calls the very same handler.
 */
export function httpHandler<B extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, P extends z.ZodType = z.ZodUndefined>(
  route: RouteSpec,
  schemas: RouteSchemas<B, Q, P>,
  container: ContainerProvider,
  impl: (req: HttpRequest<z.infer<B>, z.infer<Q>, z.infer<P>>, c: Container) => Promise<HttpReply>,
) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>().handler(async (event, context) => {
    const requestId = event.requestContext?.requestId ?? context?.awsRequestId ?? randomUUID();
    let c: Container | undefined;
    try {
      c = await container();
      const headers = lowerHeaders(event.headers);
      let principal: Principal | undefined;
      if (route.roles !== 'public') {
        principal = await c.auth.authenticate(event);
        if (!principal) throw new AegisError('UNAUTHENTICATED', 'missing or invalid credentials', { field: 'Authorization' });
        if (!route.roles.includes(principal.role as never)) {
          throw new AegisError('FORBIDDEN', `role ${principal.role} may not call ${route.method} ${route.path} (needs ${route.roles.join(' or ')})`);
        }
      }
      let rawBody: unknown;
      if (schemas.body) {
        const text = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
        if (Buffer.byteLength(text) > LIMITS.requestBodyBytes) {
          throw new AegisError('PAYLOAD_TOO_LARGE', `request body exceeds ${LIMITS.requestBodyBytes} bytes`, { field: 'body' });
        }
        try {
          rawBody = text === '' ? undefined : JSON.parse(text);
        } catch {
          throw new AegisError('INVALID_JSON', 'request body is not valid JSON', { field: 'body' });
        }
        if (rawBody === undefined) throw new AegisError('VALIDATION_FAILED', 'body: a JSON object is required', { field: 'body' });
      }
      const req = {
        body: parseWith(schemas.body, rawBody, 'body'),
        query: parseWith(schemas.query, event.queryStringParameters ?? {}, 'query'),
        params: parseWith(schemas.params, event.pathParameters ?? {}, ''),
        headers,
        principal,
        requestId,
      } as HttpRequest<z.infer<B>, z.infer<Q>, z.infer<P>>;
      const reply = await impl(req, c);
      return json(reply.status, reply.body, { 'x-request-id': requestId, ...reply.headers });
    } catch (e) {
      if (e instanceof AegisError && e.expose) {
        return json(e.status, { error: { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}), requestId, ...(e.details ? { details: e.details } : {}) } }, { 'x-request-id': requestId });
      }
      (c?.logger ?? console).error('request failed', { requestId, route: route.id, error: e instanceof Error ? { name: e.name, message: e.message, stack: e.stack } : String(e) });
      return json(500, { error: { code: 'INTERNAL', message: 'internal error', requestId } }, { 'x-request-id': requestId });
    }
  });
}

/** Process-wide memo for the Lambda composition root: built on first invocation, reused after. */
export function lazyContainer(build: () => Promise<Container>): ContainerProvider {
  let p: Promise<Container> | undefined;
  return () => {
    p ??= build().catch((e: unknown) => {
      p = undefined;
      throw e;
    });
    return p;
  };
}
