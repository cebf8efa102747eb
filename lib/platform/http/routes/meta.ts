import { ROLES } from '../../../kernel/identity.js';
import { HealthReply, OpenApiDocument, ReadinessReply, WhoamiReply } from '../schemas.js';
import { ANY_ROLE, type RouteSpec } from './spec.js';

/** The version /healthz, /v1/readyz and /openapi.json report. */
export const AEGIS_VERSION = '0.1.0';

export const META_ROUTES = {
  health: {
    id: 'health',
    method: 'GET',
    path: '/healthz',
    entry: 'lambdas/health.ts',
    roles: 'public',
    scope: 'none',
    summary: 'Liveness: the process answers; touches no dependency',
    reply: { schema: HealthReply, status: { 200: 'the process is up' } },
  },
  readyz: {
    id: 'readyz',
    method: 'GET',
    path: '/v1/readyz',
    entry: 'lambdas/readyz.ts',
    roles: ANY_ROLE,
    scope: 'none',
    summary: 'Readiness: the database, the object store and the signing keys each answer within a time bound',
    reply: {
      schema: ReadinessReply,
      status: { 200: 'every dependency answered', 503: 'a dependency did not answer in time or failed (see checks)' },
    },
  },
  openapi: {
    id: 'openapi',
    method: 'GET',
    path: '/openapi.json',
    entry: 'lambdas/openapi.ts',
    roles: 'public',
    scope: 'none',
    summary: 'OpenAPI 3.1 document generated from the request and response schemas',
    reply: { schema: OpenApiDocument, status: { 200: 'this document' } },
  },
  whoami: {
    id: 'whoami',
    method: 'GET',
    path: '/v1/whoami',
    entry: 'lambdas/whoami.ts',
    roles: ROLES,
    scope: 'none',
    summary: 'The caller: its principal, role, scope and the routes its role may call',
    reply: { schema: WhoamiReply, status: { 200: 'the caller' } },
  },
} as const satisfies Record<string, RouteSpec>;
