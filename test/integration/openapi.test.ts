import SwaggerParser from '@apidevtools/swagger-parser';
import { randomBytes } from 'node:crypto';
import { ROUTES, routePaths, type RouteId, type RouteSpec } from '../../lib/platform/http/routes.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';

/** The served OpenAPI document is valid 3.1, complete, unambiguous; deprecated aliases still answer. */
let stack: Stack;
let doc: any;
beforeAll(async () => {
  stack = await startStack();
  const res = await stack.api('GET', '/openapi.json', undefined, { token: null });
  expect(res.status).toBe(200);
  doc = res.body;
});
afterAll(async () => {
  await stack?.stop();
});

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
const operations = () =>
  Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => ({ path, method: m.toUpperCase(), op: item[m] })),
  );

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document (swagger-parser resolves and validates every $ref)', async () => {
    expect(doc.openapi).toBe('3.1.0');
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeDefined();
    const text = JSON.stringify(doc);
    // OpenAPI 3.0 keywords are invalid in 3.1; JSON Schema draft-04 refs do not resolve in it
    expect(text).not.toContain('"nullable"');
    expect(text).not.toMatch(/"exclusive(Minimum|Maximum)":(true|false)/);
    expect(text).not.toContain('#/definitions/');
  });

  it('names its servers and license, and every schema of a route as a component', () => {
    expect(doc.servers).toEqual([expect.objectContaining({ url: expect.any(String) })]);
    expect(doc.info.license).toMatchObject({ name: 'Apache-2.0' });
    const register = doc.paths['/v1/registry/register'].post;
    expect(register.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/RegisterBody' });
    expect(doc.components.schemas.ErrorBody).toBeDefined();
    expect(register.responses['400']).toEqual({ $ref: '#/components/responses/Error400' });
  });

  it('has every route of the route table exactly once, and each deprecated alias once, marked deprecated', () => {
    const ops = operations();
    const ids = ops.map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [id, route] of Object.entries(ROUTES) as [RouteId, RouteSpec][]) {
      const own = ops.filter((o) => o.op.operationId === id);
      expect(own.map((o) => `${o.method} ${o.path}`)).toEqual([`${route.method} ${route.path}`]);
      expect(own[0]!.op.deprecated).toBeUndefined();
      for (const { path } of routePaths(route).filter((p) => p.deprecated)) {
        const alias = ops.filter((o) => o.path === path && o.method === route.method);
        expect(alias).toHaveLength(1);
        expect(alias[0]!.op).toMatchObject({ operationId: `${id}Deprecated`, deprecated: true });
      }
    }
    const expected = Object.values(ROUTES).reduce((n, r: RouteSpec) => n + routePaths(r).length, 0);
    expect(ops).toHaveLength(expected);
  });

  it('has no two current paths a router could confuse (same shape, a parameter where the other has a name)', () => {
    const current = Object.values(ROUTES).map((r: RouteSpec) => r.path);
    const isParam = (s: string) => /^\{\w+\}$/.test(s);
    const clashes: string[] = [];
    for (const [i, a] of current.entries()) {
      for (const b of current.slice(i + 1)) {
        const sa = a.split('/');
        const sb = b.split('/');
        if (a === b || sa.length !== sb.length) continue;
        if (sa.every((seg, k) => seg === sb[k] || isParam(seg) || isParam(sb[k]!))) clashes.push(`${a} ~ ${b}`);
      }
    }
    expect(clashes).toEqual([]);
  });
});

describe('deprecated paths', () => {
  it('answer like the current path, with Deprecation and a Link to it', async () => {
    const reg = await uploadAndRegister(stack, 'aliased', randomBytes(64));
    expect(reg.status).toBe(201);
    const id = reg.body.artifactId as string;
    const token = stack.adminToken;
    const get = (path: string) => fetch(`${stack.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const now = await get(`/v1/artifacts/${id}`);
    const old = await get(`/v1/registry/${id}`);
    expect(now.status).toBe(200);
    expect(old.status).toBe(200);
    expect(await old.json()).toEqual(await now.json());
    expect(now.headers.get('deprecation')).toBeNull();
    expect(old.headers.get('deprecation')).toBe('true');
    expect(old.headers.get('link')).toBe(`</v1/artifacts/${id}>; rel="successor-version"`);
    // an error through an alias carries the same headers
    const missing = await get('/v1/registry/not-a-uuid/validate');
    expect(missing.status).toBe(400);
    expect(missing.headers.get('deprecation')).toBe('true');
  });
});
