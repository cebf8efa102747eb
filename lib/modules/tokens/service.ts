import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../../kernel/canonical.js';
import { isRole, scopeFromText, scopeText, type Principal, type Role, type Scope } from '../../kernel/identity.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { AuditLog } from '../../platform/audit/log.js';
import { countTokens, findActiveToken, insertToken, tokenRow } from './store.js';

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

  /**
   * A new token for `principal` acting as `role` on the models of `scope` (global: every
   * model, as tokens made before scopes existed).
   */
  async create(
    principal: string,
    role: Role,
    actor = 'system',
    scope: Scope = 'global',
  ): Promise<{ token: string; principal: string; role: Role; scope: Scope }> {
    const token = `aegis_${randomBytes(32).toString('base64url')}`;
    const now = this.clock.now();
    const text = scopeText(scope);
    const stored = scopeFromText(text);
    await this.database.db.transaction().execute(async (tx) => {
      await insertToken(tx, tokenRow({ tokenSha256: sha256Hex(token), principal, role, scope: text, createdAt: now }));
      // never the token: only who may now act as what, on which models
      const payload = stored === 'global' ? { principal, role } : { principal, role, scope: stored };
      await this.audit.append(tx, { type: 'token.created', actor, subject: `principal:${principal}`, payload });
    });
    return { token, principal, role, scope: stored };
  }

  async resolve(token: string): Promise<Principal | undefined> {
    const row = await findActiveToken(this.database.db, sha256Hex(token));
    // a role this release does not know (a row written by hand) grants nothing
    return row ? { id: row.principal, role: isRole(row.role) ? row.role : 'none', scope: scopeFromText(row.scope) } : undefined;
  }

  async count(): Promise<number> {
    return countTokens(this.database.db);
  }
}
