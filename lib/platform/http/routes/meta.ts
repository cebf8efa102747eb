import { HealthReply, OpenApiDocument } from '../schemas.js';
import type { RouteSpec } from './spec.js';

export const META_ROUTES = {
  health: {
    id: 'health',
    method: 'GET',
    path: '/healthz',
    entry: 'lambdas/health.ts',
    roles: 'public',
    scope: 'none',
    summary: 'Liveness and dependency health',
    reply: { schema: HealthReply, status: { 200: 'healthy', 503: 'the database is unreachable' } },
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
} as const satisfies Record<string, RouteSpec>;
