import { randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { AegisError } from '../../kernel/errors.js';
import { stringifyJson } from '../../kernel/json.js';
import { LIMITS } from '../../kernel/manifest.js';
import { retryableFault } from './faults.js';
import type { ContainerProvider, HandlerBuilder, LambdaHandler } from './handler.js';
import { bodyLimit, ROUTES, routePaths, type RouteId, type RouteSpec } from './routes.js';
import { lambdaContext, toApiGatewayEvent } from './api-event.js';
import { serveDownload } from './local-downloads.js';
import { collectingAfterResponse, runAfterResponse } from './after-response.js';
import type { LocalConsole } from './local-console.js';

interface CompiledRoute {
  route: RouteSpec;
  /** the path this pattern serves: the route's own, or one of its deprecated aliases */
  path: string;
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

const sendJson = (res: ServerResponse, status: number, body: unknown, requestId?: string) => {
  res.writeHead(status, { 'content-type': 'application/json', ...(requestId ? { 'x-request-id': requestId } : {}) });
  res.end(stringifyJson(body));
};

const errorBody = (e: AegisError, requestId: string) => ({
  error: { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}), requestId },
});

/** What the HTTP parser could not read (request line, headers, framing): answered as JSON, then the connection is closed. */
function clientErrorReply(err: NodeJS.ErrnoException & { rawPacket?: unknown }): { status: number; error: AegisError } {
  if (err.code === 'HPE_HEADER_OVERFLOW')
    return { status: 431, error: new AegisError('HEADERS_TOO_LARGE', 'request headers are too large', { field: 'headers' }) };
  if (err.code === 'HPE_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return { status: 408, error: new AegisError('REQUEST_TIMEOUT', 'the request was not received in time', { field: 'request' }) };
  return {
    status: 400,
    error: new AegisError('MALFORMED_REQUEST', `the request cannot be parsed as HTTP/1.1 (${err.code ?? 'parse error'})`, {
      field: 'headers',
    }),
  };
}

/** A path segment as the route sees it; a broken percent-escape is the caller's error. */
function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new AegisError('INVALID_PATH_ENCODING', 'the path contains an invalid percent-escape', { field: 'path' });
  }
}

/** Reads a request body up to `limit` bytes; undefined when it is larger (nothing more is buffered). */
async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        req.resume();
        return undefined;
      }
      chunks.push(chunk as Buffer);
    }
  } catch (e) {
    // the client went away mid-body (or sent a broken framing): its error, not a server fault
    throw new AegisError('MALFORMED_REQUEST', 'the request body ended before its declared length', { field: 'body', cause: e });
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** What the request handling below works with: the compiled routes and the container they serve. */
interface Served {
  routes: CompiledRoute[];
  container: ContainerProvider;
  console: LocalConsole | undefined;
}

/**
 * Serves the Lambda handlers over node:http, building the same API Gateway proxy events
 * API Gateway would. Static path segments win over parameters, as in API Gateway. Local
 * upload URLs (`PUT /v1/uploads/<key>`) stream straight into the container's upload sink
 * (the filesystem store), and download URLs (`GET /v1/downloads/<key>`) out of it.
 */
export function createLocalServer(
  handlers: Record<RouteId, HandlerBuilder>,
  container: ContainerProvider,
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer | undefined },
  webConsole?: LocalConsole,
): Server {
  const served: Served = { routes: compileRoutes(handlers, container), container, console: webConsole };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    // One id per request, on every reply this server writes and in the event the handler sees.
    const requestId = randomUUID();
    void handle(served, req, res, requestId).catch((e: unknown) => replyFailure(req, res, requestId, e));
  };
  const server = tls
    ? // mTLS: with a client CA, the handshake itself refuses clients without a certificate it signed
      createHttpsServer(
        { cert: tls.cert, key: tls.key, ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}) },
        listener,
      )
    : createServer(listener);
  // Idle keep-alive connections outlive the clients' own idle timeouts (undici's is 4 s): a
  // server closing first races a client reusing the connection, which then sees ECONNRESET.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  answerUnreadableRequests(server);
  return server;
}

function compileRoutes(handlers: Record<RouteId, HandlerBuilder>, container: ContainerProvider): CompiledRoute[] {
  return (Object.entries(ROUTES) as [RouteId, RouteSpec][])
    .flatMap(([id, route]) => {
      const handler = handlers[id].build(container);
      return routePaths(route).map(({ path }) => ({ route, path, ...compile(path), handler }));
    })
    .sort((a, b) => a.params.length - b.params.length);
}

/** A request that failed outside its handler: 4xx as JSON, a retryable fault as 503, anything else as 500. */
function replyFailure(req: IncomingMessage, res: ServerResponse, requestId: string, e: unknown): void {
  if (e instanceof AegisError && e.expose) {
    req.resume();
    if (!res.headersSent) sendJson(res, e.status, errorBody(e, requestId), requestId);
    else res.destroy();
    return;
  }
  const fault = retryableFault(e);
  console.error('local server error', {
    requestId,
    ...(fault ? { fault: fault.code } : {}),
    error: e instanceof Error ? e.message : String(e),
  });
  if (res.headersSent) return void res.destroy();
  if (fault) {
    res.setHeader('retry-after', '1');
    sendJson(res, 503, { error: { code: fault.code, message: fault.message, retryable: true, requestId } }, requestId);
  } else sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal error', requestId } }, requestId);
}

/** Requests the listener never sees (an unsupported Expect, what the HTTP parser cannot read) are answered as JSON too. */
function answerUnreadableRequests(server: Server): void {
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    req.resume();
    sendJson(
      res,
      417,
      errorBody(new AegisError('EXPECTATION_FAILED', 'only "Expect: 100-continue" is supported', { field: 'Expect' }), requestId),
      requestId,
    );
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const requestId = randomUUID();
    const { status, error } = clientErrorReply(err);
    const body = stringifyJson(errorBody(error, requestId));
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
}

async function handle(served: Served, req: IncomingMessage, res: ServerResponse, requestId: string) {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://local');
  } catch {
    throw new AegisError('INVALID_PATH_ENCODING', 'the request target is not a valid path', { field: 'path' });
  }
  if (url.pathname.startsWith('/v1/uploads/')) return upload(served, req, res, url, requestId);
  if (url.pathname.startsWith('/v1/downloads/')) {
    const key = decodeSegment(url.pathname.slice('/v1/downloads/'.length));
    return serveDownload((await served.container()).downloadSource, key, req, res, url.searchParams, requestId);
  }
  if (url.pathname === '/metrics' && req.method === 'GET') return metrics(served, res, requestId);
  if (served.console) {
    if (await served.console.handle(req, res, url, () => readBody(req, LIMITS.requestBodyBytes))) return;
    // an API call the console makes with its session cookie runs with the session's token
    const authorization = served.console.authorization(req);
    if (authorization) req.headers.authorization = authorization;
  }
  const matches = served.routes.map((r) => ({ r, m: r.pattern.exec(url.pathname) })).filter((x) => x.m);
  if (matches.length === 0) throw new AegisError('ROUTE_NOT_FOUND', `no route ${url.pathname}`);
  const hit = matches.find((x) => x.r.route.method === req.method);
  if (!hit) throw new AegisError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}`);
  const params: Record<string, string> = {};
  hit.r.params.forEach((name, i) => {
    params[name] = decodeSegment(hit.m![i + 1]!);
  });
  let body: string | null = null;
  if (req.method !== 'GET') {
    const limit = bodyLimit(hit.r.route);
    const text = await readBody(req, limit);
    if (text === undefined) throw new AegisError('PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`, { field: 'body' });
    body = text;
  }
  const event = toApiGatewayEvent({ req, url, resource: hit.r.path, pathParameters: params, body, requestId });
  // work the handler leaves for after the response (serving's shadow) runs once it is sent, or the connection ends
  const after: (() => void)[] = [];
  res.once('finish', () => runAfterResponse(after)).once('close', () => runAfterResponse(after));
  const result = await collectingAfterResponse(after, () => hit.r.handler(event, lambdaContext(`aegis-${hit.r.route.id}`, requestId)));
  res.writeHead(result.statusCode, result.headers as Record<string, string>);
  res.end(result.body);
}

/** This container's Prometheus series: the services record into its registry, no other server's. */
async function metrics(served: Served, res: ServerResponse, requestId: string) {
  const exposition = (await served.container()).metricsExposition;
  if (!exposition) throw new AegisError('ROUTE_NOT_FOUND', 'no route /metrics');
  const text = await exposition.text();
  res.writeHead(200, { 'content-type': exposition.contentType, 'x-request-id': requestId });
  res.end(text);
}

async function upload(served: Served, req: IncomingMessage, res: ServerResponse, url: URL, requestId: string) {
  const key = decodeSegment(url.pathname.slice('/v1/uploads/'.length));
  const sink = (await served.container()).uploadSink;
  if (!sink) throw new AegisError('ROUTE_NOT_FOUND', 'uploads go to the presigned S3 URL');
  if (req.method !== 'PUT') throw new AegisError('METHOD_NOT_ALLOWED', 'uploads are PUT');
  const check = sink.verifyUploadUrl(key, url.searchParams);
  if (!check.ok) {
    throw new AegisError(
      check.reason === 'expired' ? 'UPLOAD_EXPIRED' : 'FORBIDDEN',
      `upload URL ${check.reason === 'expired' ? 'has expired' : 'signature is invalid'}`,
      { field: 'url' },
    );
  }
  const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
  if (check.contentLength !== undefined && declared !== undefined && declared !== check.contentLength) {
    req.resume();
    const mismatch = new AegisError(
      'SIZE_MISMATCH',
      `Content-Length ${declared} differs from the size the upload was created for (${check.contentLength})`,
      { field: 'Content-Length' },
    );
    return sendJson(res, 400, errorBody(mismatch, requestId), requestId);
  }
  try {
    if (check.partNumber !== undefined) {
      // one part of a multipart upload: its URL always signs the part's size
      const part = await sink.putPart(key, check.partNumber, req, {
        expectedSize: check.contentLength!,
        ...(check.sha256 === undefined ? {} : { expectedSha256: check.sha256 }),
      });
      return sendJson(res, 200, part, requestId);
    }
    const info = await sink.put(key, req, {
      pendingUpload: true,
      ...(check.contentLength === undefined ? {} : { expectedSize: check.contentLength }),
      // the URL binds the bytes' sha256 (as S3 checks the one a presigned URL signs): others are refused, nothing stored
      ...(check.sha256 === undefined ? {} : { expectedSha256: check.sha256 }),
    });
    sendJson(res, 200, { key: info.key, versionId: info.versionId, size: info.size, sha256: info.sha256 }, requestId);
  } catch (e) {
    req.resume();
    if (e instanceof AegisError && e.expose) return sendJson(res, e.status, errorBody(e, requestId), requestId);
    throw e;
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
