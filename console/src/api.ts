/**
 * The console's one way to the API: the same routes and reply schemas as the CLI
 * (lib/platform/http/schemas.ts, imported as types only). Locally the browser's session cookie
 * authenticates (the server adds the session's token); state-changing calls carry the
 * session's CSRF token. On AWS a transport signs each call with SigV4 (aws/session.ts).
 * Errors come back as {@link ApiError} with the API's code and field.
 */

/** An API error reply: `{ error: { code, message, field?, requestId, details? } }`, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly requestId?: string,
    /** the reply's machine-readable specifics, e.g. the rules that refused a promotion */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** What SentinelNet decided, when `e` is its refusal (POLICY_DENIED): each rule id with its reason, and the denied request's record. */
export function policyRefusal(e: ApiError): { rules: { id: string; reason?: string }[]; promotionId?: string } | undefined {
  const d = e.details;
  if (e.code !== 'POLICY_DENIED' || !d || !Array.isArray(d.rules)) return undefined;
  const reasons = Array.isArray(d.reasons) ? d.reasons : [];
  const rules = d.rules.flatMap((id: unknown, i) => {
    const reason: unknown = reasons[i];
    return typeof id === 'string' ? [{ id, ...(typeof reason === 'string' ? { reason } : {}) }] : [];
  });
  return { rules, ...(typeof d.promotionId === 'string' ? { promotionId: d.promotionId } : {}) };
}

let csrfToken: string | undefined;
let onUnauthenticated: ((why: string) => void) | undefined;

/** The session's CSRF token, sent with every state-changing call. */
export function setCsrf(token: string | undefined): void {
  csrfToken = token;
}

/** Called when the API refuses the caller as unauthenticated (the session ended, its token was revoked, its credentials expired). */
export function whenSignedOut(f: (why: string) => void): void {
  onUnauthenticated = f;
}

/** Sends one API call (`path` starts with `/v1/`); may throw an {@link ApiError}. */
export type Transport = (
  path: string,
  init: { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; headers: Record<string, string>; body?: string },
) => Promise<Response>;

/** Locally: the same origin, with the session cookie. */
let transport: Transport = (path, init) => fetch(path, { ...init, credentials: 'same-origin' });

/** Where API calls go from now on (the AWS session's signing transport). */
export function setTransport(t: Transport): void {
  transport = t;
}

type Query = Record<string, string | number | undefined | null>;

/** `/v1/x` + the query's defined values. */
export function withQuery(path: string, query: Query = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export async function api<T>(path: string, init: { method?: 'GET' | 'POST' | 'PUT' | 'DELETE'; body?: unknown } = {}): Promise<T> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-aegis-csrf'] = csrfToken;
  let res: Response;
  try {
    res = await transport(path, { method, headers, ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }) });
  } catch (e) {
    if (e instanceof ApiError) {
      if (e.code === 'UNAUTHENTICATED') onUnauthenticated?.(e.message);
      throw e;
    }
    throw new ApiError(0, 'NETWORK', `the server did not answer (${e instanceof Error ? e.message : String(e)})`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ApiError(res.status, 'NOT_JSON', `the server answered ${res.status} with something that is not JSON`);
  }
  if (!res.ok) {
    const e = (
      body as
        { error?: { code?: string; message?: string; field?: string; requestId?: string; details?: Record<string, unknown> } } | undefined
    )?.error;
    if (res.status === 401 || e?.code === 'UNAUTHENTICATED') onUnauthenticated?.(e?.message ?? res.statusText);
    throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText, e?.field, e?.requestId, e?.details);
  }
  return body as T;
}
