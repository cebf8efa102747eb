import * as z from 'zod';
import { ROUTES, type RouteId } from './routes.js';
import { ErrorBody, ROUTE_SCHEMAS } from './schemas.js';

const toSchema = (s: z.ZodType) => z.toJSONSchema(s, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' });

/** OpenAPI 3.1 document generated from the route table and the zod schemas the handlers parse with. */
export function openApiDocument(opts: { includeLocalOnly: boolean }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [id, route] of Object.entries(ROUTES) as [RouteId, (typeof ROUTES)[RouteId]][]) {
    if ('localOnly' in route && route.localOnly && !opts.includeLocalOnly) continue;
    const schemas = ROUTE_SCHEMAS[id] as { body?: z.ZodType; query?: z.ZodObject; params?: z.ZodObject; response?: z.ZodType };
    const parameters: unknown[] = [];
    for (const [where, s] of [['path', schemas.params], ['query', schemas.query]] as const) {
      if (!s) continue;
      for (const [name, field] of Object.entries(s.shape)) {
        parameters.push({ name, in: where, required: where === 'path' || !(field as z.ZodType).safeParse(undefined).success, schema: toSchema(field as z.ZodType) });
      }
    }
    const error = { description: 'error', content: { 'application/json': { schema: toSchema(ErrorBody) } } };
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      operationId: id,
      summary: route.summary,
      ...(route.roles === 'public' ? { security: [] } : { 'x-aegis-roles': route.roles }),
      ...(parameters.length ? { parameters } : {}),
      ...(schemas.body ? { requestBody: { required: true, content: { 'application/json': { schema: toSchema(schemas.body) } } } } : {}),
      responses: {
        '200': { description: 'ok', ...(schemas.response ? { content: { 'application/json': { schema: toSchema(schemas.response) } } } : {}) },
        '400': error,
        ...(route.roles === 'public' ? {} : { '401': error, '403': error }),
        '500': error,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Aegis model registry', version: '0.1.0' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, sigv4: { type: 'apiKey', name: 'Authorization', in: 'header', 'x-amazon-apigateway-authtype': 'awsSigv4' } } },
    security: [{ bearer: [] }, { sigv4: [] }],
    paths,
  };
}
