/** The local console's session endpoints (lib/platform/http/local-console.ts). */
import { api, ApiError, setCsrf } from './api.js';

export interface SessionView {
  principal: string;
  role: string;
  csrf: string;
  expiresAt: string;
}

/** The current session, or undefined when the browser is not signed in. */
export async function currentSession(): Promise<SessionView | undefined> {
  try {
    const s = await api<SessionView>('/session');
    setCsrf(s.csrf);
    return s;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return undefined;
    throw e;
  }
}

export async function signIn(token: string): Promise<SessionView> {
  const s = await api<SessionView>('/session', { method: 'POST', body: { token } });
  setCsrf(s.csrf);
  return s;
}

export async function signOut(): Promise<void> {
  await api('/session', { method: 'DELETE' });
  setCsrf(undefined);
}
