import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { signIn } from '../session.js';

const LINK_ERRORS: Record<string, string> = {
  LOGIN_CODE_INVALID: 'That sign-in link is unknown, already used or expired. Ask for a new one with: npx aegis console',
  UNAUTHENTICATED: "The sign-in link's token no longer works (revoked or expired).",
};

/** Sign in by pasting an API token once; the server keeps it, the page never stores it. */
export function LoginPage(props: { error: string | null; onSignedIn: () => void }): JSX.Element {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | undefined>(props.error ? (LINK_ERRORS[props.error] ?? props.error) : undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      await signIn(token.trim());
      setToken('');
      props.onSignedIn();
    } catch (err) {
      setFailure(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1 id="page-title">Sign in to Aegis</h1>
      <p>
        Open the one-time link <code>npm start</code> printed, or make one with <code>npx aegis console</code>. Or paste an API token once:
        the server keeps it for this browser session (an HttpOnly cookie), the page never stores it.
      </p>
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <input
          id="token"
          type="password"
          autocomplete="off"
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          required
        />
        <button type="submit" disabled={busy || token.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {failure ? (
        <p class="state error" role="alert">
          {failure}
        </p>
      ) : null}
    </main>
  );
}
