/**
 * How this console signs in, chosen by `/config.json`: locally the server's session cookie
 * (session.ts); on AWS Cognito and SigV4 (aws/session.ts, loaded only then, as its own chunk).
 */
import { ApiError, setTransport } from './api.js';
import { loadConfig } from './config.js';
import { currentSession, signOut as closeLocalSession } from './session.js';

export interface Auth {
  mode: 'local' | 'aws';
  /** Finishes or resumes a sign-in: 'out' when there is none. */
  check(): Promise<'in' | 'out'>;
  /** AWS: to the hosted sign-in page, back at `returnTo`. */
  signIn(returnTo: string): Promise<void>;
  /** Ends the session (on AWS the page then leaves for the hosted sign-out). */
  signOut(): Promise<void>;
  /** Forgets the session's credentials (the API refused them). */
  forget(): void;
}

const local: Auth = {
  mode: 'local',
  check: async () => ((await currentSession()) ? 'in' : 'out'),
  signIn: async () => undefined,
  signOut: () => closeLocalSession().catch(() => undefined),
  forget: () => undefined,
};

let loading: Promise<Auth> | undefined;

/** The sign-in of this deployment (read once; a failed read is retried on the next call). */
export function loadAuth(): Promise<Auth> {
  loading ??= (async (): Promise<Auth> => {
    let cfg;
    try {
      cfg = await loadConfig();
    } catch (e) {
      throw new ApiError(0, 'NETWORK', `the console's configuration could not be read (${e instanceof Error ? e.message : String(e)})`);
    }
    if (cfg.mode === 'local') return local;
    const { createAwsSession } = await import('./aws/session.js');
    const session = createAwsSession(cfg);
    setTransport(session.transport);
    return { mode: 'aws', check: session.start, signIn: session.signIn, signOut: session.signOut, forget: session.forget };
  })();
  loading.catch(() => (loading = undefined));
  return loading;
}
