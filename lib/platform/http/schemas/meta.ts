import * as z from 'zod';
import { ROLES, ScopePrefix, TeamName } from '../../../kernel/identity.js';

/** Liveness: the process answers. It touches nothing (no database, no store, no key). */
export const HealthReply = z.object({
  ok: z.literal(true),
  mode: z.enum(['local', 'lambda']),
  version: z.string(),
});
export type HealthReply = z.output<typeof HealthReply>;

/** One dependency as readiness saw it: answered within its time bound, or not (no further detail). */
export const DependencyStatus = z.enum(['ok', 'unreachable']);

/** Readiness: each dependency this process needs answered a cheap call within its time bound. */
export const ReadinessReply = z.object({
  ok: z.boolean(),
  mode: z.enum(['local', 'lambda']),
  version: z.string(),
  checks: z.object({
    /** `select 1` */
    database: DependencyStatus,
    /** the artifact store answers a configuration read (S3: its Object Lock configuration) */
    objectStore: DependencyStatus,
    /** the active manifest and audit keys resolve to signers (KMS: each key is enabled) */
    signer: DependencyStatus,
  }),
});
export type ReadinessReply = z.output<typeof ReadinessReply>;

export const OpenApiDocument = z
  .object({
    openapi: z.string().regex(/^3\.1\.\d+$/),
    info: z.object({
      title: z.string(),
      version: z.string(),
      description: z.string().optional(),
      license: z.object({ name: z.string(), identifier: z.string().optional() }).optional(),
    }),
    servers: z.array(z.object({ url: z.string(), description: z.string().optional() })).optional(),
    security: z.array(z.record(z.string(), z.array(z.string()))).optional(),
    paths: z.record(z.string(), z.unknown()).optional(),
    components: z
      .object({
        schemas: z.record(z.string(), z.unknown()).optional(),
        responses: z.record(z.string(), z.unknown()).optional(),
        securitySchemes: z.record(z.string(), z.unknown()).optional(),
      })
      .optional(),
  })
  .describe('this document: OpenAPI 3.1');

/**
 * The caller, as the server sees it: the console hides what the role may not do (the server
 * still refuses it), and a user can check which credentials a client sends.
 */
export const WhoamiReply = z.object({
  principal: z.string(),
  role: z.enum([...ROLES, 'none']),
  scope: z.union([z.literal('global'), z.object({ prefixes: z.array(ScopePrefix), teams: z.array(TeamName) })]),
  /** the ids of the routes this role may call (within its scope) */
  routes: z.array(z.string()),
});
export type WhoamiReply = z.output<typeof WhoamiReply>;
