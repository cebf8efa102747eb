/**
 * Cognito Identity over fetch (the AWS JSON 1.1 protocol, unsigned calls): the identity of the
 * signed-in user in the identity pool (GetId), then temporary credentials of the IAM role their
 * group carries (GetCredentialsForIdentity). The identity pool maps roles from the ID token and
 * denies users whose token names no role: they are told to ask for a group.
 */
import type { AwsConfig } from '../config.js';
import { SignInError } from './sign-in-error.js';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** epoch ms */
  expiration: number;
}

const endpoint = (cfg: AwsConfig) => `https://cognito-identity.${cfg.region}.amazonaws.com/`;
const logins = (cfg: AwsConfig, idToken: string) => ({ [`cognito-idp.${cfg.region}.amazonaws.com/${cfg.userPoolId}`]: idToken });

async function call<T>(cfg: AwsConfig, action: string, body: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(endpoint(cfg), {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AWSCognitoIdentityService.${action}` },
      body: JSON.stringify(body),
      credentials: 'omit',
    });
  } catch (e) {
    throw new SignInError('NETWORK', `AWS (Cognito Identity) did not answer (${e instanceof Error ? e.message : String(e)}).`);
  }
  const reply = (await res.json().catch(() => ({}))) as { __type?: string; message?: string; Message?: string } & T;
  if (res.ok) return reply;
  const type = (reply.__type ?? `HTTP ${res.status}`).replace(/^.*#/, '');
  const message = reply.message ?? reply.Message ?? '';
  // token-based role mapping with "deny" when the ID token names no role: a user in no group
  if (/ambiguous role mapping/i.test(message))
    throw new SignInError(
      'NO_ROLE',
      'You are signed in, but your account is in no Aegis group, so AWS gives it no credentials. Ask an administrator to add you to a group (reader, publisher, …), then sign in again.',
    );
  if (type === 'NotAuthorizedException')
    throw new SignInError('SESSION_ENDED', `AWS refused the sign-in token (${message}). Sign in again.`);
  if (res.status >= 500) throw new SignInError('NETWORK', `AWS (Cognito Identity) failed: ${type} ${message}`);
  throw new SignInError('IDENTITY_REFUSED', `AWS (Cognito Identity) refused: ${type} ${message}`);
}

/** The identity pool's id for the user (the same for every sign-in of that user). */
export async function identityId(cfg: AwsConfig, idToken: string): Promise<string> {
  const r = await call<{ IdentityId?: string }>(cfg, 'GetId', { IdentityPoolId: cfg.identityPoolId, Logins: logins(cfg, idToken) });
  if (!r.IdentityId) throw new SignInError('IDENTITY_REFUSED', 'AWS (Cognito Identity) gave no identity id');
  return r.IdentityId;
}

/** Temporary credentials of the user's group role. */
export async function credentialsFor(cfg: AwsConfig, id: string, idToken: string): Promise<Credentials> {
  const r = await call<{ Credentials?: { AccessKeyId?: string; SecretKey?: string; SessionToken?: string; Expiration?: number } }>(
    cfg,
    'GetCredentialsForIdentity',
    { IdentityId: id, Logins: logins(cfg, idToken) },
  );
  const c = r.Credentials;
  if (!c?.AccessKeyId || !c.SecretKey || !c.SessionToken || typeof c.Expiration !== 'number')
    throw new SignInError('IDENTITY_REFUSED', 'AWS (Cognito Identity) gave incomplete credentials');
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretKey, sessionToken: c.SessionToken, expiration: c.Expiration * 1000 };
}
