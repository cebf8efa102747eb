/**
 * Every reply the tests see is checked against the schema its route names (the one
 * /openapi.json documents): its status must be one of the route's reply statuses (or an
 * error), and its body must parse with the reply schema (errors: `ErrorBody`) without parsing
 * dropping, defaulting or changing anything — so a field missing from the reply, or one the
 * schema does not name, fails the test with the route and the problem.
 */
import * as z from 'zod';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { HANDLER_BUILDERS } from '../../lambdas/index.js';
import type { HandlerBuilder } from '../../lib/platform/http/handler.js';
import { ROUTES, routePaths, type RouteId, type RouteSpec } from '../../lib/platform/http/routes.js';
import { ErrorBody } from '../../lib/platform/http/schemas.js';

/** The error code a checked server answers with (500) in place of a reply its schema refuses. */
export const REPLY_MISMATCH = 'REPLY_SCHEMA_MISMATCH';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const at = (path: string) => path || '(the body)';

/** The first place where `parsed` (the schema's output) differs from `sent` (the reply), if any. */
function firstDifference(sent: unknown, parsed: unknown, path = ''): string | undefined {
  // free-form values (z.unknown, JsonValue) come back as they were: nothing to compare, however deep
  if (sent === parsed) return undefined;
  if (isObject(sent) && isObject(parsed)) {
    for (const k of Object.keys(sent)) {
      if (!(k in parsed)) return `${path}.${k}: the schema does not name this field`;
    }
    for (const k of Object.keys(parsed)) {
      if (!(k in sent)) {
        if (parsed[k] === undefined) continue;
        return `${path}.${k}: missing from the reply (the schema defaulted it to ${JSON.stringify(parsed[k])})`;
      }
      const d = firstDifference(sent[k], parsed[k], `${path}.${k}`);
      if (d) return d;
    }
    return undefined;
  }
  if (Array.isArray(sent) && Array.isArray(parsed)) {
    if (sent.length !== parsed.length) return `${at(path)}: ${sent.length} items became ${parsed.length}`;
    for (const [i, v] of sent.entries()) {
      const d = firstDifference(v, parsed[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  return Object.is(sent, parsed) ? undefined : `${at(path)}: ${JSON.stringify(sent)} parsed as ${JSON.stringify(parsed)}`;
}

/** What is wrong with a reply of `route` (undefined: nothing). */
export function replyProblem(route: RouteSpec, status: number, body: unknown): string | undefined {
  const documented = String(status) in route.reply.status;
  if (!documented && status < 400) {
    return `status ${status} is not one of its reply statuses (${Object.keys(route.reply.status).join(', ')})`;
  }
  const schema = documented ? route.reply.schema : ErrorBody;
  const name = documented ? 'its reply schema' : 'ErrorBody';
  const parsed = schema.safeParse(body);
  if (!parsed.success) return `${name} refuses the body:\n${z.prettifyError(parsed.error)}`;
  const d = firstDifference(body, parsed.data);
  return d && `${name} does not describe the body: ${d}`;
}

/** The route a request reaches, matched as the local server and API Gateway match it (static segments first). */
export function routeOf(method: string, pathname: string): RouteSpec | undefined {
  const candidates = Object.values(ROUTES as Record<string, RouteSpec>)
    .filter((r) => r.method === method)
    .flatMap((route) => routePaths(route).map(({ path }) => ({ route, segments: path.split('/') })))
    .sort((a, b) => a.segments.filter(isParam).length - b.segments.filter(isParam).length);
  const asked = pathname.split('/');
  return candidates.find((c) => c.segments.length === asked.length && c.segments.every((s, i) => isParam(s) || s === asked[i]))?.route;
}
const isParam = (segment: string) => /^\{\w+\}$/.test(segment);

/** Throws, naming the call and the problem, when a reply does not match its route's schema (calls to no route pass). */
export function assertReply(method: string, path: string, status: number, body: unknown): void {
  const route = routeOf(method, new URL(path, 'http://x').pathname);
  const problem = route && replyProblem(route, status, body);
  if (problem) throw new Error(`${method} ${path} (route ${route!.id}) answered ${status}: ${problem}`);
}

/**
 * The route handlers with every reply checked: a reply its schema refuses is answered as a
 * 500 `REPLY_SCHEMA_MISMATCH` naming the route and the problem (whoever called — the test
 * helper, the CLI, a raw fetch — sees it), and recorded in `mismatches`.
 */
export function checkedHandlers(mismatches: string[]): Record<RouteId, HandlerBuilder> {
  const wrap = (id: RouteId, builder: HandlerBuilder): HandlerBuilder => ({
    build: (container) => {
      const handler = builder.build(container);
      const route: RouteSpec = ROUTES[id];
      return async (event, context): Promise<APIGatewayProxyResult> => {
        const result = await handler(event, context);
        let body: unknown;
        try {
          body = JSON.parse(result.body);
        } catch {
          body = result.body;
        }
        const problem = replyProblem(route, result.statusCode, body);
        if (!problem) return result;
        const message = `${event.httpMethod} ${event.path} (route ${id}) answered ${result.statusCode}: ${problem}`;
        mismatches.push(message);
        return { ...result, statusCode: 500, body: JSON.stringify({ error: { code: REPLY_MISMATCH, message, requestId: 'reply-check' } }) };
      };
    },
  });
  return Object.fromEntries(Object.entries(HANDLER_BUILDERS).map(([id, b]) => [id, wrap(id as RouteId, b)])) as Record<
    RouteId,
    HandlerBuilder
  >;
}
