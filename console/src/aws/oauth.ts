/**
 * Cognito's hosted sign-in page, authorization code flow with PKCE (RFC 7636, S256): the
 * verifier and `state` wait in sessionStorage across the redirect; the reply's `state` must be
 * the one sent; the code is exchanged once at the token endpoint for an ID token and a refresh
 * token. The app client has no secret (a browser cannot keep one).
 */
import type { AwsConfig } from '../config.js';
import { SignInError } from './sign-in-error.js';

/** sessionStorage keys: the sign-in under way, and the refresh token (this tab only, gone when it closes). */
export const PENDING_KEY = 'aegis.signin';
export const REFRESH_KEY = 'aegis.refresh';
const SCOPE = 'openid email profile';

export interface Tokens {
  idToken: string;
  refreshToken: string | undefined;
}

const b64url = (b: Uint8Array): string =>
  btoa(String.fromCharCode(...b))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const random = (n: number): string => b64url(crypto.getRandomValues(new Uint8Array(n)));

/** The app client's one callback (and logout) URL: the console's root. */
export const redirectUri = (): string => `${location.origin}/`;

/** Starts a sign-in: remembers the verifier, state and where the user was going; returns the hosted page's URL. */
export async function authorizeUrl(cfg: AwsConfig, returnTo: string): Promise<string> {
  const verifier = random(32);
  const state = random(16);
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ state, verifier, returnTo }));
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: cfg.userPoolClientId,
    redirect_uri: redirectUri(),
    scope: SCOPE,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  return `${cfg.cognitoDomain}/oauth2/authorize?${q.toString()}`;
}

interface Pending {
  state: string;
  verifier: string;
  returnTo: string;
}

function takePending(): Pending | undefined {
  const raw = sessionStorage.getItem(PENDING_KEY);
  try {
    const p = raw ? (JSON.parse(raw) as Partial<Pending>) : undefined;
    return p?.state && p.verifier ? { state: p.state, verifier: p.verifier, returnTo: p.returnTo || '/' } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The hosted page's reply (`?code=&state=` or `?error=&state=`), or undefined when this URL is
 * none. A reply is used once: its sign-in request is forgotten whatever the outcome, except a
 * network failure before the token endpoint answered (the code is still unused: retry).
 */
export async function completeSignIn(
  cfg: AwsConfig,
  strip: (to: string) => void,
): Promise<{ tokens: Tokens; returnTo: string } | undefined> {
  const q = new URLSearchParams(location.search);
  const code = q.get('code');
  const error = q.get('error');
  if (!code && !error) return undefined;
  const pending = takePending();
  const forget = (to = '/') => {
    sessionStorage.removeItem(PENDING_KEY);
    strip(to);
  };
  if (!pending || q.get('state') !== pending.state) {
    forget();
    throw new SignInError(
      'STATE_MISMATCH',
      'The sign-in reply does not belong to a sign-in this browser tab started (its state does not match), so it was refused. Sign in again.',
    );
  }
  if (error) {
    forget();
    throw new SignInError(
      'HOSTED_UI',
      `The sign-in page answered ${error}${q.get('error_description') ? `: ${q.get('error_description')}` : ''}.`,
    );
  }
  const tokens = await tokenRequest(cfg, {
    grant_type: 'authorization_code',
    client_id: cfg.userPoolClientId,
    code: code!,
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
  }).catch((e: unknown) => {
    if (!(e instanceof SignInError && e.code === 'NETWORK')) forget();
    throw e;
  });
  forget(pending.returnTo);
  return { tokens, returnTo: pending.returnTo };
}

/** A new ID token for the refresh token (Cognito keeps the refresh token unless it rotates it). */
export async function refreshTokens(cfg: AwsConfig, refreshToken: string): Promise<Tokens> {
  const t = await tokenRequest(cfg, { grant_type: 'refresh_token', client_id: cfg.userPoolClientId, refresh_token: refreshToken });
  return { idToken: t.idToken, refreshToken: t.refreshToken ?? refreshToken };
}

/** Revokes the refresh token (and the tokens issued with it); a failure is not the user's problem at sign-out. */
export async function revoke(cfg: AwsConfig, refreshToken: string): Promise<void> {
  await fetch(`${cfg.cognitoDomain}/oauth2/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: refreshToken, client_id: cfg.userPoolClientId }),
    credentials: 'omit',
  }).catch(() => undefined);
}

/** The hosted page's sign-out, back to the console's root (the app client's logout URL). */
export const logoutUrl = (cfg: AwsConfig): string =>
  `${cfg.cognitoDomain}/logout?${new URLSearchParams({ client_id: cfg.userPoolClientId, logout_uri: redirectUri() }).toString()}`;

async function tokenRequest(cfg: AwsConfig, form: Record<string, string>): Promise<Tokens> {
  let res: Response;
  try {
    res = await fetch(`${cfg.cognitoDomain}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
      credentials: 'omit',
    });
  } catch (e) {
    throw new SignInError('NETWORK', `The sign-in service did not answer (${e instanceof Error ? e.message : String(e)}).`);
  }
  const body = (await res.json().catch(() => ({}))) as {
    id_token?: unknown;
    refresh_token?: unknown;
    error?: unknown;
    error_description?: unknown;
  };
  if (!res.ok || typeof body.id_token !== 'string') {
    const why = typeof body.error === 'string' ? body.error : `HTTP ${res.status}`;
    const more = typeof body.error_description === 'string' ? ` (${body.error_description})` : '';
    throw new SignInError(
      form.grant_type === 'refresh_token' ? 'SESSION_ENDED' : 'TOKEN_REFUSED',
      `The sign-in service refused: ${why}${more}. Sign in again.`,
    );
  }
  return { idToken: body.id_token, refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : undefined };
}
