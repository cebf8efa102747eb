import type { JSX } from 'preact';
import { useState } from 'preact/hooks';

/** AWS mode: sign in on the organisation's Cognito page; the reason the last attempt or session ended, if any. */
export function AwsLoginPage(props: { reason: string | undefined; signIn: () => Promise<void> }): JSX.Element {
  const [busy, setBusy] = useState(false);
  const go = async () => {
    setBusy(true);
    await props.signIn().finally(() => setBusy(false));
  };
  return (
    <main class="login">
      <h1 id="page-title">Sign in to Aegis</h1>
      <p>
        You sign in on your organisation&apos;s sign-in page (a password and an authenticator code). Your group there decides what you may
        do here.
      </p>
      {props.reason ? (
        <p class="state error" role="alert">
          {props.reason}
        </p>
      ) : null}
      <button type="button" onClick={() => void go()} disabled={busy}>
        {busy ? 'Going to the sign-in page…' : 'Sign in'}
      </button>
    </main>
  );
}
