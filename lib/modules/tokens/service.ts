import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../../kernel/canonical.js';
import { isRole, type Principal, type Role } from '../../kernel/identity.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { AuditLog } from '../../platform/audit/log.js';

/**
 * Local-mode bearer tokens. Only the sha256 of a token is stored; the token itself is
 * shown once, to whoever created it.
 */
export class TokenService {
  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
  ) {}

  async create(principal: string, role: Role, actor = 'system'): Promise<{ token: string; principal: string; role: Role }> {
    const token = `aegis_${randomBytes(32).toString('base64url')}`;
    const now = this.clock.now();
    await this.database.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('api_tokens')
        .values({ token_sha256: sha256Hex(token), principal, role, created_at: now, revoked_at: null })
        .execute();
      // never the token: only who may now act as what
      await this.audit.append(tx, { type: 'token.created', actor, subject: `principal:${principal}`, payload: { principal, role } });
    });
    return { token, principal, role };
  }

  async resolve(token: string): Promise<Principal | undefined> {
    const row = await this.database.db
      .selectFrom('api_tokens')
      .select(['principal', 'role'])
      .where('token_sha256', '=', sha256Hex(token))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    // a role this release does not know (a row written by hand) grants nothing
    return row ? { id: row.principal, role: isRole(row.role) ? row.role : 'none' } : undefined;
  }

  async count(): Promise<number> {
    const r = await this.database.db
      .selectFrom('api_tokens')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}
