import type * as z from 'zod';
import { ROLES, type Role } from '../../../kernel/identity.js';

export const ANY_ROLE: readonly Role[] = ROLES;

/**
 * The statuses a route answers with its reply schema, each with what it means (errors aside:
 * they all carry `ErrorBody`). The handler may answer only these, and /openapi.json documents them.
 */
export type ReplyStatuses = Readonly<Partial<Record<200 | 201 | 202 | 503, string>>>;

export interface RouteSpec {
  /** stable id, also the Lambda's logical name */
  id: string;
  method: 'GET' | 'POST' | 'PUT';
  /** API Gateway style path: `{name}` parameters */
  path: string;
  /** the handler file, relative to the repo root (exports `handler` and `build`) */
  entry: string;
  /** roles allowed to call; `public` routes need no caller at all */
  roles: readonly Role[] | 'public';
  summary: string;
  /** served by the local server only (local bearer tokens, local upload URLs) */
  localOnly?: boolean;
  /**
   * Earlier paths of this route, still served by the same handler (locally and by API
   * Gateway) so existing clients keep working; the OpenAPI document marks them `deprecated`
   * and replies through them carry `Deprecation: true` and a `Link` to the current path.
   */
  deprecatedPaths?: readonly string[];
  /** what the handler parses (schemas.ts): the JSON body, the query string, the path parameters */
  request?: { body?: z.ZodType; query?: z.ZodObject; params?: z.ZodObject };
  /** what it answers with: the reply's schema (schemas.ts) and the statuses it answers with */
  reply: { schema: z.ZodType; status: ReplyStatuses };
}
