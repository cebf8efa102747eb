import type * as z from 'zod';
import { ROLES, type Role } from '../../../kernel/identity.js';
import { LIMITS } from '../../../kernel/manifest.js';

/** Every role that reads the registry: all but `invoker`, which only calls models (predict, feedback). */
export const ANY_ROLE: readonly Role[] = ROLES.filter((r) => r !== 'invoker');

/**
 * The statuses a route answers with its reply schema, each with what it means (errors aside:
 * they all carry `ErrorBody`). The handler may answer only these, and /openapi.json documents them.
 */
export type ReplyStatuses = Readonly<Partial<Record<200 | 201 | 202 | 503, string>>>;

/**
 * Which model a route's request reaches, so the handler can hold the caller to its scope
 * (lib/platform/http/scope.ts) before the use case runs. Every route declares one.
 *
 * - `{ by: 'artifactId' | 'promotionId' | 'model' | 'requestId' | 'runId' | 'reportId' | 'suggestionId' }`: the path
 *   parameter of that name (`requestId`: a quarantine or release request; `runId`, `reportId`, `suggestionId`: a drift
 *   run, report or retrain suggestion) names one model's object; outside the caller's scope it answers exactly as a
 *   missing one (404). With `read: 'in-scope'` (read-only routes), the use case itself reads the object within the
 *   caller's scope in the same statement (a hidden object is missing to it, so it answers the same 404), and the
 *   handler makes no separate check: one statement fewer for a scoped caller.
 * - `{ by: 'body.modelName' | 'body.manifest.modelName', team?: 'body.team' }`: a write naming
 *   a model, perhaps a new one (then `team` says where its team label comes from); outside the
 *   scope it is refused (403 naming the field, the same whether the model exists or not) and
 *   nothing is created.
 * - `'filtered'`: the use case is given the caller's scope and sees only those models (lists; the drift lists are
 *   filtered by `scopedPage` in scope.ts).
 * - `'global-only'`: it reaches every model (the audit log, keys, tokens, team labels): only
 *   callers with a global scope (403 for a scoped one).
 * - `'none'`: it reaches no model (health, the OpenAPI document, datasets: global by design).
 */
/** The path parameters whose object belongs to one model (see {@link ScopeRule}). */
export const PATH_ID_SCOPES = ['artifactId', 'promotionId', 'model', 'requestId', 'runId', 'reportId', 'suggestionId'] as const;
export type PathIdScope = (typeof PATH_ID_SCOPES)[number];

export type ScopeRule =
  | { by: PathIdScope; read?: 'in-scope' }
  | { by: 'body.modelName' | 'body.manifest.modelName'; team?: 'body.team' }
  | 'filtered'
  | 'global-only'
  | 'none';

export interface RouteSpec {
  /** stable id, also the Lambda's logical name */
  id: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** API Gateway style path: `{name}` parameters */
  path: string;
  /** the handler file, relative to the repo root (exports `handler` and `build`) */
  entry: string;
  /** roles allowed to call; `public` routes need no caller at all */
  roles: readonly Role[] | 'public';
  /** which model the request reaches, checked against the caller's scope (see {@link ScopeRule}) */
  scope: ScopeRule;
  summary: string;
  /** served by the local server only (local bearer tokens, local upload URLs) */
  localOnly?: boolean;
  /**
   * Earlier paths of this route, still served by the same handler (locally and by API
   * Gateway) so existing clients keep working; the OpenAPI document marks them `deprecated`
   * and replies through them carry `Deprecation: true` and a `Link` to the current path.
   */
  deprecatedPaths?: readonly string[];
  /** the largest body the route takes (bytes; 413 naming `body` over it) @default LIMITS.requestBodyBytes */
  bodyBytes?: number;
  /** what the handler parses (schemas.ts): the JSON body, the query string, the path parameters */
  request?: { body?: z.ZodType; query?: z.ZodObject; params?: z.ZodObject };
  /** what it answers with: the reply's schema (schemas.ts) and the statuses it answers with */
  reply: { schema: z.ZodType; status: ReplyStatuses };
}

/** The largest body a route takes: its own `bodyBytes`, or the API's {@link LIMITS.requestBodyBytes}. */
export const bodyLimit = (route: RouteSpec): number => route.bodyBytes ?? LIMITS.requestBodyBytes;
