import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Principal, RoleGrant } from '../../../kernel/identity.js';
import type { Authenticator } from '../../ports/auth.js';

/**
 * `arn:aws:sts::123:assumed-role/Deployer/session` → `arn:aws:iam::123:role/Deployer`, so the
 * role map can name IAM roles rather than sessions.
 */
export function normalizePrincipalArn(arn: string): string {
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : arn;
}

/**
 * The user behind Cognito identity-pool credentials (the web console): API Gateway's
 * `cognitoAuthenticationProvider`, `cognito-idp.<region>.amazonaws.com/<pool>,cognito-idp.<region>.amazonaws.com/<pool>:CognitoSignIn:<sub>`,
 * gives the user pool's `sub`; undefined for any other caller.
 */
export function cognitoSubject(provider: string | null | undefined): string | undefined {
  const m = /:CognitoSignIn:([0-9a-f-]{36})$/i.exec(provider ?? '');
  return m ? m[1]!.toLowerCase() : undefined;
}

/**
 * AWS mode: API Gateway has already checked the SigV4 signature (IAM auth); map the caller to a
 * role. The role comes from the (assumed) IAM role; a console user signed in through Cognito is
 * named `cognito:<sub>`, so the audit log names the person, not their group's role.
 */
export class IamAuthenticator implements Authenticator {
  constructor(private readonly roleMap: Readonly<Record<string, RoleGrant>>) {}

  async authenticate(event: APIGatewayProxyEvent): Promise<Principal | undefined> {
    const arn = event.requestContext?.identity?.userArn;
    if (!arn) return undefined;
    const roleArn = normalizePrincipalArn(arn);
    const grant = Object.hasOwn(this.roleMap, roleArn) ? this.roleMap[roleArn] : undefined;
    const sub = cognitoSubject(event.requestContext.identity.cognitoAuthenticationProvider);
    const id = sub ? `cognito:${sub}` : roleArn;
    // An authenticated IAM caller without a mapping is known but has no role (403, not 401).
    return grant ? { id, role: grant.role, scope: grant.scope } : { id, role: 'none', scope: { prefixes: [], teams: [] } };
  }
}
