/**
 * A stand-in for Cognito's hosted sign-in endpoints, as documented in the Amazon Cognito
 * Developer Guide ("User pool endpoints reference": /oauth2/authorize, /oauth2/token,
 * /oauth2/revoke, /logout). No emulator implements them. It checks what Cognito checks:
 * the app client id, the redirect/logout URI exactly as registered, response_type=code with a
 * PKCE S256 challenge, codes used once and within their 5 minutes, the verifier against the
 * challenge, the same redirect_uri at the token endpoint, refresh tokens not revoked; it echoes
 * `state`. The sign-in form is skipped: the user the test names signs in at once. ID tokens carry
 * what a user pool puts in them (sub, email, aud, iss, token_use, cognito:groups,
 * cognito:preferred_role); they are HMAC-signed with a key of this process (nobody here checks
 * Cognito's RS256 signature: the identity pool does, and moto does not).
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface HostedUser {
  sub: string;
  email: string;
  /** user pool groups (the first one's role becomes cognito:preferred_role) */
  groups: { name: string; roleArn: string }[];
}

export interface HostedUiOptions {
  region: string;
  userPoolId: string;
  clientId: string;
  /** the app client's callback and logout URL (`<console origin>/`) */
  callbackUrl: string;
  /** seconds an ID token lives @default 3600 */
  idTokenSeconds?: number;
  now?: () => number;
}

export const CODE_LIFETIME_MS = 5 * 60_000;

interface Code {
  user: HostedUser;
  challenge: string;
  redirectUri: string;
  issuedAt: number;
  used: boolean;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class HostedUiStandIn {
  /** who signs in on the next visit to /oauth2/authorize */
  user: HostedUser | undefined;
  /** what each endpoint was asked, for assertions: `POST /oauth2/token grant_type=…` */
  readonly calls: string[] = [];
  readonly revoked = new Set<string>();
  private readonly codes = new Map<string, Code>();
  private readonly refreshTokens = new Map<string, HostedUser>();
  private readonly key = randomBytes(32);

  constructor(private readonly opts: HostedUiOptions) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Answers a request to the hosted domain. */
  async handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://hosted.invalid');
    const route = `${req.method} ${url.pathname}`;
    const form = new URLSearchParams(body.toString('utf8'));
    this.calls.push(`${route}${route === 'POST /oauth2/token' ? ` grant_type=${form.get('grant_type') ?? ''}` : ''}`);
    const cors = req.headers.origin ? { 'access-control-allow-origin': req.headers.origin, vary: 'Origin' } : {};
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', 'cache-control': 'no-store', ...cors });
      res.end(JSON.stringify(value));
    };
    const oauthError = (error: string, description: string) => json(400, { error, error_description: description });
    if (route === 'GET /oauth2/authorize') return this.authorize(url.searchParams, res);
    if (route === 'GET /logout') {
      if (url.searchParams.get('client_id') !== this.opts.clientId) return oauthError('invalid_request', 'unknown client_id');
      if (url.searchParams.get('logout_uri') !== this.opts.callbackUrl) return oauthError('invalid_request', 'logout_uri not registered');
      res.writeHead(302, { location: this.opts.callbackUrl });
      return void res.end();
    }
    if (route === 'POST /oauth2/revoke') {
      if (form.get('client_id') !== this.opts.clientId) return oauthError('invalid_client', 'unknown client_id');
      this.revoked.add(form.get('token') ?? '');
      return json(200, {});
    }
    if (route !== 'POST /oauth2/token') return json(404, { error: 'not_found' });
    if (!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] ?? ''))
      return oauthError('invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
    if (form.get('client_id') !== this.opts.clientId) return oauthError('invalid_client', 'unknown client_id');
    if (form.get('grant_type') === 'refresh_token') {
      const token = form.get('refresh_token') ?? '';
      const user = this.refreshTokens.get(token);
      if (!user || this.revoked.has(token)) return oauthError('invalid_grant', 'Refresh Token has been revoked');
      return json(200, { id_token: this.idToken(user), access_token: randomUUID(), token_type: 'Bearer', expires_in: 3600 });
    }
    if (form.get('grant_type') !== 'authorization_code') return oauthError('unsupported_grant_type', 'grant_type');
    const code = this.codes.get(form.get('code') ?? '');
    if (!code || code.used || this.now() - code.issuedAt > CODE_LIFETIME_MS)
      return oauthError('invalid_grant', 'code is invalid, used or expired');
    code.used = true;
    if (form.get('redirect_uri') !== code.redirectUri)
      return oauthError('invalid_grant', 'redirect_uri differs from the authorize request');
    const verifier = form.get('code_verifier') ?? '';
    if (b64url(createHash('sha256').update(verifier).digest()) !== code.challenge)
      return oauthError('invalid_grant', 'PKCE verification failed');
    const refresh = b64url(randomBytes(32));
    this.refreshTokens.set(refresh, code.user);
    return json(200, {
      id_token: this.idToken(code.user),
      access_token: randomUUID(),
      refresh_token: refresh,
      token_type: 'Bearer',
      expires_in: 3600,
    });
  }

  private authorize(q: URLSearchParams, res: ServerResponse): void {
    const refuse = (why: string) => {
      // Cognito shows an error page (no redirect) for a bad client or redirect URI
      res.writeHead(400, { 'content-type': 'text/html' });
      res.end(`<!doctype html><title>Error</title><h1>An error was encountered: ${why}</h1>`);
    };
    if (q.get('client_id') !== this.opts.clientId) return refuse('invalid client_id');
    const redirectUri = q.get('redirect_uri') ?? '';
    if (redirectUri !== this.opts.callbackUrl) return refuse('redirect_mismatch');
    const back = new URL(redirectUri);
    const state = q.get('state');
    if (state !== null) back.searchParams.set('state', state);
    const fail = (error: string) => {
      back.searchParams.set('error', error);
      res.writeHead(302, { location: back.toString() });
      res.end();
    };
    if (q.get('response_type') !== 'code') return fail('unsupported_response_type');
    if (!(q.get('scope') ?? '').split(' ').includes('openid')) return fail('invalid_scope');
    const challenge = q.get('code_challenge') ?? '';
    if (q.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) return fail('invalid_request');
    if (!this.user) return fail('access_denied');
    const code = randomUUID();
    this.codes.set(code, { user: this.user, challenge, redirectUri, issuedAt: this.now(), used: false });
    // the order Cognito uses: code first, then state
    const ordered = new URL(redirectUri);
    ordered.searchParams.set('code', code);
    if (state !== null) ordered.searchParams.set('state', state);
    res.writeHead(302, { location: ordered.toString() });
    res.end();
  }

  /** An ID token with a user pool's claims. */
  idToken(user: HostedUser): string {
    const now = Math.floor(this.now() / 1000);
    const claims = {
      sub: user.sub,
      email: user.email,
      aud: this.opts.clientId,
      iss: `https://cognito-idp.${this.opts.region}.amazonaws.com/${this.opts.userPoolId}`,
      token_use: 'id',
      auth_time: now,
      iat: now,
      exp: now + (this.opts.idTokenSeconds ?? 3600),
      ...(user.groups.length && {
        'cognito:groups': user.groups.map((g) => g.name),
        'cognito:roles': user.groups.map((g) => g.roleArn),
        'cognito:preferred_role': user.groups[0]!.roleArn,
      }),
    };
    const head = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
    return `${head}.${b64url(createHmac('sha256', this.key).update(head).digest())}`;
  }

  /** The claims of an ID token this stand-in issued (undefined for anything else). */
  claims(token: string): Record<string, unknown> | undefined {
    const [h, p, s] = token.split('.');
    if (!h || !p || !s || b64url(createHmac('sha256', this.key).update(`${h}.${p}`).digest()) !== s) return undefined;
    return JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  }
}
