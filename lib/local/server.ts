import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { FsObjectStore } from '../adapters/local/fs-object-store.js';
import { prometheusSink } from '../adapters/local/prometheus-metrics-sink.js';
import { AegisError } from '../core/errors.js';
import { LIMITS } from '../core/manifest.js';
import type { Container } from '../container.js';
import type { ContainerProvider } from '../http/handler.js';
import { ROUTES, type RouteId, type RouteSpec } from '../http/routes.js';
import { lambdaContext, toApiGatewayEvent } from './api-event.js';
import type { LambdaHandler } from '../../lambdas/index.js';

interface CompiledRoute {
  route: RouteSpec;
  pattern: RegExp;
  params: string[];
  handler: LambdaHandler;
}

/** `/v1/registry/{artifactId}` → a regex with one named group per parameter. */
function compile(path: string): { pattern: RegExp; params: string[] } {
  const params: string[] = [];
  const source = path
    .split('/')
    .map((seg) => {
      const m = /^\{(\w+)\}$/.exec(seg);
      if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      params.push(m[1]!);
      return '([^/]+)';
    })
    .join('/');
  return { pattern: new RegExp(`^${source}$`), params };
}

const sendJson = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const errorBody = (e: AegisError) => ({ error: { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) } });

/** Reads a request body up to `limit` bytes; undefined when it is larger (nothing more is buffered). */
async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface LocalServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * Serves the Lambda handlers over node:http, building the same API Gateway proxy events
 * API Gateway would. Static path segments win over parameters, as in API Gateway. Local
 * upload URLs (`PUT /v1/uploads/<key>`) stream straight into the filesystem store.
 */
export function createLocalServer(
  handlers: Record<RouteId, { build: (c: ContainerProvider) => LambdaHandler }>,
  container: ContainerProvider,
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer | undefined },
): Server {
  const routes: CompiledRoute[] = (Object.entries(ROUTES) as [RouteId, RouteSpec][])
    .map(([id, route]) => ({ route, ...compile(route.path), handler: handlers[id].build(container) }))
    .sort((a, b) => a.params.length - b.params.length);

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    void handle(req, res).catch((e: unknown) => {
      console.error('local server error', e instanceof Error ? e.message : e);
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
      else res.destroy();
    });
  };
  if (!tls) return createServer(listener);
  // mTLS: with a client CA, the handshake itself refuses clients without a certificate it signed
  return createHttpsServer({ cert: tls.cert, key: tls.key, ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}) }, listener);

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.pathname.startsWith('/v1/uploads/')) return upload(req, res, url, await container());
    if (url.pathname === '/metrics' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': prometheusSink.registry.contentType });
      return res.end(await prometheusSink.registry.metrics());
    }
    const matches = routes.map((r) => ({ r, m: r.pattern.exec(url.pathname) })).filter((x) => x.m);
    if (matches.length === 0) return sendJson(res, 404, errorBody(new AegisError('ROUTE_NOT_FOUND', `no route ${url.pathname}`)));
    const hit = matches.find((x) => x.r.route.method === req.method);
    if (!hit) return sendJson(res, 405, errorBody(new AegisError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}`)));
    let body: string | null = null;
    if (req.method !== 'GET') {
      const text = await readBody(req, LIMITS.requestBodyBytes);
      if (text === undefined) {
        return sendJson(res, 413, errorBody(new AegisError('PAYLOAD_TOO_LARGE', `request body exceeds ${LIMITS.requestBodyBytes} bytes`, { field: 'body' })));
      }
      body = text;
    }
    const params: Record<string, string> = {};
    hit.r.params.forEach((name, i) => {
      params[name] = decodeURIComponent(hit.m![i + 1]!);
    });
    const event = toApiGatewayEvent(req, url, hit.r.route.path, params, body);
    const result = await hit.r.handler(event, lambdaContext(`aegis-${hit.r.route.id}`, event.requestContext.requestId));
    res.writeHead(result.statusCode, result.headers as Record<string, string>);
    res.end(result.body);
  }

  async function upload(req: IncomingMessage, res: ServerResponse, url: URL, c: Container) {
    if (!(c.store instanceof FsObjectStore)) return sendJson(res, 404, errorBody(new AegisError('ROUTE_NOT_FOUND', 'uploads go to the presigned S3 URL')));
    if (req.method !== 'PUT') return sendJson(res, 405, errorBody(new AegisError('METHOD_NOT_ALLOWED', 'uploads are PUT')));
    const key = decodeURIComponent(url.pathname.slice('/v1/uploads/'.length));
    const check = c.store.verifyUploadUrl(key, url.searchParams);
    if (!check.ok) {
      const status = check.reason === 'expired' ? 410 : 403;
      return sendJson(res, status, errorBody(new AegisError(check.reason === 'expired' ? 'UPLOAD_EXPIRED' : 'FORBIDDEN', `upload URL ${check.reason === 'expired' ? 'has expired' : 'signature is invalid'}`, { field: 'url' })));
    }
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    if (check.contentLength !== undefined && declared !== undefined && declared !== check.contentLength) {
      req.resume();
      return sendJson(res, 400, errorBody(new AegisError('SIZE_MISMATCH', `Content-Length ${declared} differs from the size the upload was created for (${check.contentLength})`, { field: 'Content-Length' })));
    }
    try {
      const info = await c.store.put(key, req, check.contentLength === undefined ? {} : { expectedSize: check.contentLength });
      sendJson(res, 200, { key: info.key, versionId: info.versionId, size: info.size, sha256: info.sha256 });
    } catch (e) {
      req.resume();
      if (e instanceof AegisError && e.expose) return sendJson(res, e.status, errorBody(e));
      throw e;
    }
  }
}

/** Listens on host:port (0 = any free port) and resolves with the base URL. */
export async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const scheme = 'setSecureContext' in server ? 'https' : 'http';
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
}
