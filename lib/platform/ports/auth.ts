/**
 * The authentication port: who is calling. Adapters: `adapters/auth/{bearer-token,iam}.ts`
 * (bearer tokens locally, API Gateway's IAM identities on AWS); tested by the HTTP suites
 * and `test/integration/lambda-iam.test.ts`.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Principal } from '../../kernel/identity.js';

/**
 * Who is calling: a principal with a role, or undefined when the request carries no valid identity.
 *
 * @example
 * const principal = await auth.authenticate(event);
 * if (!principal) throw new AegisError('UNAUTHENTICATED', 'missing or invalid credentials');
 */
export interface Authenticator {
  authenticate(event: APIGatewayProxyEvent): Promise<Principal | undefined>;
}

/**
 * Resolves an API token to its principal (the tokens module's service): undefined for a
 * secret no token has; a revoked or expired token throws its 401 (`UNAUTHENTICATED`,
 * `TOKEN_EXPIRED`) with a message that says which, so its holder knows what to do.
 */
export interface TokenResolver {
  resolve(token: string): Promise<Principal | undefined>;
}
