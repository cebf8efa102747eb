import * as z from 'zod';

export const HealthReply = z.object({
  ok: z.boolean(),
  mode: z.enum(['local', 'lambda']),
  database: z.enum(['ok', 'unreachable']),
  version: z.string(),
});
export type HealthReply = z.output<typeof HealthReply>;

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
