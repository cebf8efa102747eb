/**
 * The local console's sign-in (local mode only; on AWS the console signs in with Cognito).
 *
 * A browser never holds an API token in script: it holds an HttpOnly, SameSite=Strict session
 * cookie, and the local server adds the token the session was opened with to each API call the
 * browser makes (`Authorization: Bearer …`), so the token's own checks (revocation, expiry, role,
 * scope) apply on every request, and revoking the token ends its sessions at once. A session is
 * opened by a one-time login code (printed by the server at start, or made by `aegis console`
 * for any token's holder) or by pasting a token once. State-changing API calls made with the
 * cookie must carry the session's CSRF token in `x-aegis-csrf`.
 *
 * Sessions live in the server's memory: a restart signs every browser out.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AegisError } from '../../kernel/errors.js';
import type { Principal } from '../../kernel/identity.js';
import type { TokenResolver } from '../ports/auth.js';

export const SESSION_COOKIE = 'aegis_session';
export const CSRF_HEADER = 'x-aegis-csrf';
/** how long a session lasts from its opening */
export const SESSION_TTL_MS = 12 * 3600_000;
/** how long a one-time login code may wait to be used */
export const LOGIN_CODE_TTL_MS = 10 * 60_000;
/** the most sessions (and codes) held at once; the oldest go first */
const MAX_ENTRIES = 1000;

interface Session {
  token: string;
  csrf: string;
  principal: Principal;
  expiresAt: number;
}

export interface SessionView {
  principal: string;
  role: Principal['role'];
  csrf: string;
  expiresAt: string;
}

const secret = () => randomBytes(32).toString('base64url');
/** map keys are hashes: a heap dump shows no usable session id or code */
const keyOf = (s: string) => createHash('sha256').update(s).digest('base64url');

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class ConsoleSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly codes = new Map<string, { token: string; expiresAt: number }>();

  constructor(
    private readonly tokens: TokenResolver,
    private readonly now: () => number = Date.now,
  ) {}

  /** A one-time login code for `token`'s holder (the token is checked when the code is used). */
  issueLoginCode(token: string): { code: string; expiresAt: string } {
    const code = secret();
    const expiresAt = this.now() + LOGIN_CODE_TTL_MS;
    bounded(this.codes).set(keyOf(code), { token, expiresAt });
    return { code, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** Opens a session from a login code; the code is spent whether or not its token still works. */
  async redeem(code: string): Promise<{ id: string; view: SessionView }> {
    const key = keyOf(code);
    const entry = this.codes.get(key);
    this.codes.delete(key);
    if (!entry || entry.expiresAt <= this.now())
      throw new AegisError('LOGIN_CODE_INVALID', 'this sign-in link is unknown, used or expired: ask for a new one (aegis console)', {
        field: 'code',
      });
    return this.open(entry.token, 'code');
  }

  /** Opens a session with a token the user pasted. */
  async open(token: string, field = 'token'): Promise<{ id: string; view: SessionView }> {
    const principal = await this.tokens.resolve(token);
    if (!principal) throw new AegisError('UNAUTHENTICATED', 'this token is not known to this server', { field });
    const id = secret();
    const session: Session = { token, csrf: secret(), principal, expiresAt: this.now() + SESSION_TTL_MS };
    bounded(this.sessions).set(keyOf(id), session);
    return { id, view: view(session) };
  }

  /** The live session a cookie names, if any. */
  find(id: string | undefined): (Session & { view: SessionView }) | undefined {
    if (!id) return undefined;
    const key = keyOf(id);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(key);
      return undefined;
    }
    return { ...s, view: view(s) };
  }

  /**
   * The Authorization header for an API request made with the session cookie; a state-changing
   * request must present the session's CSRF token. Undefined: no live session (the API answers 401).
   */
  authorization(id: string | undefined, method: string, csrf: string | undefined): string | undefined {
    const s = this.find(id);
    if (!s) return undefined;
    if (!SAFE_METHODS.has(method) && !(csrf && sameSecret(csrf, s.csrf)))
      throw new AegisError('CSRF_TOKEN_INVALID', `a console request that changes state must carry the session's ${CSRF_HEADER} header`, {
        field: CSRF_HEADER,
      });
    return `Bearer ${s.token}`;
  }

  close(id: string | undefined): void {
    if (id) this.sessions.delete(keyOf(id));
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const view = (s: Session): SessionView => ({
  principal: s.principal.id,
  role: s.principal.role,
  csrf: s.csrf,
  expiresAt: new Date(s.expiresAt).toISOString(),
});

/** A map that drops its oldest entry before it grows past {@link MAX_ENTRIES}. */
function bounded<V>(m: Map<string, V>): Map<string, V> {
  while (m.size >= MAX_ENTRIES) m.delete(m.keys().next().value!);
  return m;
}

/** The value of one cookie in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie header that opens (or, with maxAge 0, clears) a session. */
export function sessionCookie(id: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}
