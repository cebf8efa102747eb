/**
 * The API functions on AWS (lib/platform/http/route-functions.ts): every deployed route belongs
 * to exactly one function, each function's handler file exists and names itself, and a
 * function's handler calls the handler of the route the API Gateway event names (method and
 * resource path, deprecated aliases included), refusing any other with a 404.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import {
  API_FUNCTION_NAMES,
  API_ROUTE_IDS,
  apiFunction,
  apiFunctionEntry,
  ROUTE_FUNCTION,
  routesOf,
} from '../../lib/platform/http/route-functions.js';
import { ROUTES } from '../../lib/platform/http/routes.js';

const event = (httpMethod: string, resource: string): APIGatewayProxyEvent =>
  ({ httpMethod, resource, path: resource, requestContext: { requestId: 'req-1' } }) as unknown as APIGatewayProxyEvent;
const context = {} as Context;
const answering = (id: string) => async (): Promise<APIGatewayProxyResult> => ({ statusCode: 200, body: id });

describe('route functions', () => {
  it('puts every deployed route in exactly one function, and no local-only route in any', () => {
    expect(Object.keys(ROUTE_FUNCTION).sort()).toEqual([...API_ROUTE_IDS].sort());
    expect(API_FUNCTION_NAMES.flatMap((n) => routesOf(n)).sort()).toEqual([...API_ROUTE_IDS].sort());
    expect(Object.keys(ROUTE_FUNCTION)).not.toContain('tokensCreate');
  });

  it.each(API_FUNCTION_NAMES.map((n) => [n]))('%s has its handler file, dispatching its own routes', (name) => {
    const file = apiFunctionEntry(name);
    expect(file).toMatch(/^lambdas\/api\/[a-z-]+\.ts$/);
    expect(existsSync(file)).toBe(true);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(`apiFunction('${name}', {`);
    for (const id of routesOf(name))
      expect(text).toContain(`import { handler as ${id} } from '../${ROUTES[id].entry.slice('lambdas/'.length).replace(/\.ts$/, '.js')}';`);
  });

  it('calls the handler of the route the method and resource name, on its path and its deprecated aliases', async () => {
    const handler = apiFunction('promotions', {
      promote: answering('promote'),
      promoteVersion: answering('promoteVersion'),
      rollback: answering('rollback'),
      quarantine: answering('quarantine'),
      quarantineApprove: answering('quarantineApprove'),
    });
    for (const id of routesOf('promotions')) {
      const route = ROUTES[id];
      for (const path of [route.path, ...(('deprecatedPaths' in route && route.deprecatedPaths) || [])])
        expect({ id, path, body: (await handler(event(route.method, path), context)).body }).toEqual({ id, path, body: id });
    }
    expect(ROUTES.promote.deprecatedPaths).toEqual(['/v1/registry/{artifactId}/promote']);
  });

  it('answers 404 ROUTE_NOT_FOUND, naming the function and the route, for a method or path it does not serve', async () => {
    const handler = apiFunction('validate', { artifactValidate: answering('a'), versionValidate: answering('v') });
    for (const [method, path] of [
      ['DELETE', ROUTES.artifactValidate.path],
      [ROUTES.artifactValidate.method, ROUTES.promote.path],
    ] as const) {
      const r = await handler(event(method, path), context);
      expect(r.statusCode).toBe(404);
      expect(JSON.parse(r.body)).toEqual({
        error: { code: 'ROUTE_NOT_FOUND', message: `the validate function serves no route ${method} ${path}`, requestId: 'req-1' },
      });
    }
  });

  it("refuses to build a function given another function's route", () => {
    const handlers = { artifactValidate: answering('a'), versionValidate: answering('v'), register: answering('r') };
    expect(() => apiFunction('validate', handlers as unknown as Parameters<typeof apiFunction<'validate'>>[1])).toThrow(
      'the validate function does not serve register',
    );
  });
});
