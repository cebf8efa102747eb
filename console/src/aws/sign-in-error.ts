/**
 * Why an AWS sign-in did not finish, in words a user can act on. `NETWORK` is worth a retry
 * (nothing was consumed); the others need a new sign-in or an administrator.
 */
export type SignInErrorCode =
  'NETWORK' | 'STATE_MISMATCH' | 'HOSTED_UI' | 'TOKEN_REFUSED' | 'NO_ROLE' | 'IDENTITY_REFUSED' | 'SESSION_ENDED';

export class SignInError extends Error {
  override readonly name = 'SignInError';

  constructor(
    readonly code: SignInErrorCode,
    message: string,
  ) {
    super(message);
  }
}
