import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Principal } from '../../../kernel/identity.js';
import type { Authenticator, TokenResolver } from '../../ports/auth.js';

/** Local mode: `Authorization: Bearer <token>` looked up by its sha256. */
export class BearerTokenAuthenticator implements Authenticator {
  constructor(private readonly tokens: TokenResolver) {}

  async authenticate(event: APIGatewayProxyEvent): Promise<Principal | undefined> {
    const header = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
    const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    return m ? this.tokens.resolve(m[1]!) : undefined;
  }
}
