/**
 * The console's session on AWS (loaded only when `config.json` says `mode: 'aws'`, as a chunk of
 * its own): hosted sign-in (oauth.ts), identity-pool credentials (identity.ts), and every API call
 * signed with SigV4 for execute-api. The ID token and the credentials live in memory only; the
 * refresh token in sessionStorage (this tab, until it closes), so a reload keeps the session.
 * Credentials are renewed before they expire (refresh token → new ID token → new credentials);
 * an API answer saying the signature's credentials are no good renews them once, then signs out.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { ApiError, type Transport } from '../api.js';
import type { AwsConfig } from '../config.js';
import { navigate } from '../router.js';
import { WebCryptoSha256 } from './checksum.js';
import { credentialsFor, identityId, type Credentials } from './identity.js';
import { authorizeUrl, completeSignIn, logoutUrl, PENDING_KEY, REFRESH_KEY, refreshTokens, revoke, type Tokens } from './oauth.js';
import { SignInError } from './sign-in-error.js';

/** Renew this long before expiry: 5 minutes, or a third of a short lifetime. */
const RENEW_BEFORE_MS = 5 * 60_000;

export interface AwsSession {
  /** Finishes a sign-in coming back from the hosted page, or resumes this tab's session: 'out' when there is none. */
  start(): Promise<'in' | 'out'>;
  /** To the hosted sign-in page; back at `returnTo` afterwards. */
  signIn(returnTo: string): Promise<void>;
  /** Revokes the refresh token, forgets everything, and signs out of the hosted page too. */
  signOut(): Promise<void>;
  /** Forgets the session without leaving the page (the API refused its credentials). */
  forget(): void;
  /** What api() sends through: signed with SigV4, to the API's URL. */
  transport: Transport;
}

export function createAwsSession(cfg: AwsConfig): AwsSession {
  let tokens: Tokens | undefined;
  let identity: string | undefined;
  let creds: (Credentials & { obtainedAt: number }) | undefined;
  let renewing: Promise<Credentials> | undefined;

  const keepTokens = (t: Tokens) => {
    tokens = t;
    if (t.refreshToken) sessionStorage.setItem(REFRESH_KEY, t.refreshToken);
  };
  const fetchCredentials = async (): Promise<Credentials> => {
    if (!tokens) {
      const stored = sessionStorage.getItem(REFRESH_KEY);
      if (!stored) throw new SignInError('SESSION_ENDED', 'Signed out. Sign in again.');
      keepTokens(await refreshTokens(cfg, stored));
    }
    identity ??= await identityId(cfg, tokens!.idToken);
    const c = await credentialsFor(cfg, identity, tokens!.idToken);
    creds = { ...c, obtainedAt: Date.now() };
    return c;
  };
  /** Fresh credentials; near expiry, a new ID token first (one renewal at a time). */
  const credentials = (force = false): Promise<Credentials> => {
    const now = Date.now();
    if (creds && !force) {
      const margin = Math.min(RENEW_BEFORE_MS, (creds.expiration - creds.obtainedAt) / 3);
      if (creds.expiration - now > margin) return Promise.resolve(creds);
    }
    renewing ??= (async () => {
      const refresh = tokens?.refreshToken ?? sessionStorage.getItem(REFRESH_KEY);
      if (creds && refresh) keepTokens(await refreshTokens(cfg, refresh));
      return fetchCredentials();
    })().finally(() => (renewing = undefined));
    return renewing;
  };
  const forget = () => {
    tokens = undefined;
    identity = undefined;
    creds = undefined;
    sessionStorage.removeItem(REFRESH_KEY);
    sessionStorage.removeItem(PENDING_KEY);
  };

  const signer = (c: Credentials) =>
    new SignatureV4({
      service: 'execute-api',
      region: cfg.region,
      sha256: WebCryptoSha256,
      credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken },
    });

  const send = async (path: string, init: Parameters<Transport>[1], c: Credentials): Promise<Response> => {
    const url = new URL(path.replace(/^\//, ''), cfg.apiUrl);
    const query: Record<string, string | string[]> = {};
    for (const k of new Set(url.searchParams.keys())) {
      const all = url.searchParams.getAll(k);
      query[k] = all.length === 1 ? all[0]! : all;
    }
    const signed = await signer(c).sign({
      method: init.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { ...init.headers, host: url.host },
      ...(init.body === undefined ? {} : { body: init.body }),
    });
    const { host: _host, ...headers } = signed.headers;
    return fetch(url, { method: init.method, headers, credentials: 'omit', ...(init.body === undefined ? {} : { body: init.body }) });
  };

  const transport: Transport = async (path, init) => {
    const attempt = async (force: boolean) => {
      let c: Credentials;
      try {
        c = await credentials(force);
      } catch (e) {
        if (e instanceof SignInError && e.code !== 'NETWORK') throw new ApiError(401, 'UNAUTHENTICATED', e.message);
        throw e;
      }
      return send(path, init, c);
    };
    const res = await attempt(false);
    if (res.status !== 401 && res.status !== 403) return res;
    // the API Gateway's refusal of the credentials (expired, or the signature): renew once
    const code = (
      (await res
        .clone()
        .json()
        .catch(() => ({}))) as { error?: { code?: string } }
    ).error?.code;
    return code === 'UNAUTHENTICATED' ? attempt(true) : res;
  };

  return {
    transport,
    forget,
    async start() {
      try {
        const back = await completeSignIn(cfg, (to) => navigate(to, true));
        if (back) {
          forget();
          keepTokens(back.tokens);
        } else if (!tokens && !sessionStorage.getItem(REFRESH_KEY)) return 'out';
        await credentials(true);
        return 'in';
      } catch (e) {
        // nothing is kept of a sign-in that cannot go on; a network failure keeps it for the retry
        if (!(e instanceof SignInError && e.code === 'NETWORK')) forget();
        throw e;
      }
    },
    async signIn(returnTo) {
      location.assign(await authorizeUrl(cfg, returnTo));
    },
    async signOut() {
      const refresh = tokens?.refreshToken ?? sessionStorage.getItem(REFRESH_KEY);
      forget();
      if (refresh) await revoke(cfg, refresh);
      location.assign(logoutUrl(cfg));
    },
  };
}
