import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../core/canonical.js';
import type { Role } from '../config.js';
import type { Clock, Database } from '../ports.js';
import type { Principal } from './registry.js';

/**
 * Local-mode bearer tokens. Only the sha256 of a token is stored; the token itself is
 * shown once, to whoever created it.
 */
export class TokenService {
  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
  ) {}

  async create(principal: string, role: Role): Promise<{ token: string; principal: string; role: Role }> {
    const token = `aegis_${randomBytes(32).toString('base64url')}`;
    await this.database.db
      .insertInto('api_tokens')
      .values({ token_sha256: sha256Hex(token), principal, role, created_at: this.clock.now(), revoked_at: null })
      .execute();
    return { token, principal, role };
  }

  async resolve(token: string): Promise<Principal | undefined> {
    const row = await this.database.db
      .selectFrom('api_tokens')
      .select(['principal', 'role'])
      .where('token_sha256', '=', sha256Hex(token))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row ? { id: row.principal, role: row.role } : undefined;
  }

  async count(): Promise<number> {
    const r = await this.database.db.selectFrom('api_tokens').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }
}
