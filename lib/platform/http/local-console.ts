/**
 * The web console in local mode: its static files (built by `scripts/build.mjs` into
 * `dist/console/`) at `/` of the local server, under a strict Content-Security-Policy, and the
 * session endpoints of {@link ConsoleSessions}:
 *
 *   GET    /session/login?code=…  one-time sign-in link → session cookie, then to the console
 *   POST   /session {token}       sign in by pasting a token (JSON only)
 *   GET    /session               who the cookie signs in as, and its CSRF token
 *   DELETE /session               sign out (with the CSRF header)
 *   POST   /session/codes         a one-time sign-in link for the bearer token's holder (`aegis console`)
 *   GET    /config.json           `{ mode: 'local' }`: sign in here (on AWS, CloudFront serves the deployed one)
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import * as z from 'zod';
import { AegisError } from '../../kernel/errors.js';
import { parseJsonStrict, stringifyJson } from '../../kernel/json.js';
import {
  type ConsoleSessions,
  CSRF_HEADER,
  SESSION_COOKIE,
  SESSION_TTL_MS,
  cookieValue,
  sessionCookie,
  type SessionView,
} from './console-sessions.js';

/** The console's security headers: no script, style or connection but its own origin's; never framed. */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
} as const;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** Paths the console never answers: the API and the server's own endpoints. */
const NOT_CONSOLE = /^\/(v1|session)(\/|$)|^\/(healthz|openapi\.json|metrics)$/;

const TokenBody = z.object({ token: z.string().min(1).max(500) }).strict();

export interface LocalConsoleOptions {
  /** the built console (dist/console); a missing folder answers 404 naming the build command */
  dir: string;
  sessions: ConsoleSessions;
  /** cookies are marked Secure when the server speaks TLS */
  secure: boolean;
}

export class LocalConsole {
  constructor(private readonly opts: LocalConsoleOptions) {}

  get sessions(): ConsoleSessions {
    return this.opts.sessions;
  }

  /** The Authorization header a cookie-signed API request runs with (none: as it came). */
  authorization(req: IncomingMessage): string | undefined {
    if (req.headers.authorization) return undefined;
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    const csrf = req.headers[CSRF_HEADER];
    return this.opts.sessions.authorization(id, req.method ?? 'GET', typeof csrf === 'string' ? csrf : undefined);
  }

  /** True when this request is the console's (a session endpoint or a page/asset GET); it is then answered. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, body: () => Promise<string | undefined>): Promise<boolean> {
    if (url.pathname === '/session' || url.pathname.startsWith('/session/')) {
      await this.session(req, res, url, body);
      return true;
    }
    if (NOT_CONSOLE.test(url.pathname) || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    if (url.pathname === '/config.json') {
      reply(res, 200, { mode: 'local' });
      return true;
    }
    this.serveFile(req, res, url.pathname);
    return true;
  }

  private async session(req: IncomingMessage, res: ServerResponse, url: URL, body: () => Promise<string | undefined>) {
    const { sessions, secure } = this.opts;
    const cookie = cookieValue(req.headers.cookie, SESSION_COOKIE);
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /session/login') {
      try {
        const { id } = await sessions.redeem(url.searchParams.get('code') ?? '');
        res.writeHead(303, { location: '/', 'set-cookie': sessionCookie(id, SESSION_TTL_MS / 1000, secure), ...SECURITY_HEADERS });
      } catch (e) {
        const code = e instanceof AegisError ? e.code : 'LOGIN_FAILED';
        res.writeHead(303, { location: `/login?error=${encodeURIComponent(code)}`, ...SECURITY_HEADERS });
      }
      return void res.end();
    }
    if (route === 'POST /session') {
      const { token } = parseBody(TokenBody, req, await body());
      const { id, view } = await sessions.open(token);
      return reply(res, 200, view, { 'set-cookie': sessionCookie(id, SESSION_TTL_MS / 1000, secure) });
    }
    if (route === 'GET /session') {
      const s = sessions.find(cookie);
      if (!s) throw new AegisError('UNAUTHENTICATED', 'not signed in', { field: SESSION_COOKIE });
      return reply(res, 200, s.view satisfies SessionView);
    }
    if (route === 'DELETE /session') {
      sessions.authorization(cookie, 'DELETE', headerOf(req, CSRF_HEADER));
      sessions.close(cookie);
      return reply(res, 200, { signedOut: true }, { 'set-cookie': sessionCookie('', 0, secure) });
    }
    if (route === 'POST /session/codes') {
      const m = /^Bearer\s+(\S+)$/i.exec(headerOf(req, 'authorization') ?? '');
      if (!m)
        throw new AegisError('UNAUTHENTICATED', 'a sign-in link is made for a bearer token: send Authorization: Bearer …', {
          field: 'authorization',
        });
      // the token must work now (the link would fail later otherwise)
      const { id } = await sessions.open(m[1]!, 'authorization');
      sessions.close(id);
      const { code, expiresAt } = sessions.issueLoginCode(m[1]!);
      return reply(res, 201, { path: `/session/login?code=${code}`, expiresAt });
    }
    throw new AegisError('ROUTE_NOT_FOUND', `no route ${req.method} ${url.pathname}`);
  }

  /** A built file, or index.html for a console page (the browser routes the path itself). */
  private serveFile(req: IncomingMessage, res: ServerResponse, pathname: string) {
    const root = this.opts.dir;
    if (!existsSync(join(root, 'index.html')))
      throw new AegisError('ROUTE_NOT_FOUND', `the console is not built (${root} is missing): run npm run build`);
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      throw new AegisError('INVALID_PATH_ENCODING', 'the path contains an invalid percent-escape', { field: 'path' });
    }
    const file = normalize(join(root, decoded));
    const isAsset = file.startsWith(root + sep) && extname(file) !== '' && existsSync(file) && statSync(file).isFile();
    const path = isAsset ? file : join(root, 'index.html');
    if (!isAsset && extname(pathname) !== '') throw new AegisError('ROUTE_NOT_FOUND', `no file ${pathname}`);
    const hashed = isAsset && pathname.startsWith('/assets/');
    res.writeHead(200, {
      'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
      'content-length': String(statSync(path).size),
      // assets carry their content's hash in their name; the page itself is always revalidated
      'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
      ...SECURITY_HEADERS,
    });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(path).pipe(res);
  }
}

const headerOf = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
};

function parseBody<T extends z.ZodType>(schema: T, req: IncomingMessage, text: string | undefined): z.output<T> {
  // JSON only: a cross-site form cannot send it without a preflight this server never grants
  if (!/^application\/json\b/i.test(headerOf(req, 'content-type') ?? ''))
    throw new AegisError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json', { field: 'content-type' });
  if (text === undefined) throw new AegisError('PAYLOAD_TOO_LARGE', 'the body is too large', { field: 'body' });
  let value: unknown;
  try {
    value = parseJsonStrict(text);
  } catch {
    throw new AegisError('VALIDATION_FAILED', 'body: not valid JSON', { field: 'body' });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.join('.') || 'body';
    throw new AegisError('VALIDATION_FAILED', `${field}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, { field });
  }
  return parsed.data;
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...SECURITY_HEADERS, ...headers });
  res.end(stringifyJson(body));
}
