import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Principal, Role } from '../../kernel/identity.js';
import type { TokenService } from '../../modules/tokens/service.js';

/** Who is calling: a principal with a role, or undefined when the request carries no valid identity. */
export interface Authenticator {
  authenticate(event: APIGatewayProxyEvent): Promise<Principal | undefined>;
}

/** Local mode: `Authorization: Bearer <token>` looked up by its sha256. */
export class BearerTokenAuthenticator implements Authenticator {
  constructor(private readonly tokens: TokenService) {}

  async authenticate(event: APIGatewayProxyEvent): Promise<Principal | undefined> {
    const header = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
    const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    return m ? this.tokens.resolve(m[1]!) : undefined;
  }
}

/**
 * `arn:aws:sts::123:assumed-role/Deployer/session` → `arn:aws:iam::123:role/Deployer`, so the
 * role map can name IAM roles rather than sessions.
 */
export function normalizePrincipalArn(arn: string): string {
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : arn;
}

/** AWS mode: API Gateway has already checked the SigV4 signature (IAM auth); map the caller to a role. */
export class IamAuthenticator implements Authenticator {
  constructor(private readonly roleMap: Record<string, Role>) {}

  async authenticate(event: APIGatewayProxyEvent): Promise<Principal | undefined> {
    const arn = event.requestContext?.identity?.userArn;
    if (!arn) return undefined;
    const id = normalizePrincipalArn(arn);
    const role = this.roleMap[id];
    // An authenticated IAM caller without a mapping is known but has no role (403, not 401).
    return { id, role: role ?? 'none' };
  }
}
