import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';
import { isRole, scopeFromText, scopeText, type Principal, type Role, type Scope } from '../../kernel/identity.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database, Executor } from '../../platform/ports/database.js';
import type { AuditLog } from '../../platform/audit/log.js';
import { TokenCache } from './cache.js';
import { LAST_USED_EVERY_MS, lastUseIsStale, tokenLifetime, tokenState, type TokenLimits, type TokenRecord } from './domain.js';
import {
  countUsableTokens,
  findTokenById,
  findTokenBySecretHash,
  insertToken,
  listTokens,
  revokeToken,
  touchLastUsed,
  tokenRow,
  type StoredToken,
} from './store.js';

/** A token just made: its secret, shown once, and what it stands for. */
export interface IssuedToken {
  token: string;
  tokenId: string;
  principal: string;
  role: Role;
  /** the models the role applies to ('global': every model) */
  scope: Scope;
  createdAt: string;
  expiresAt: string;
}

const secret = () => `aegis_${randomBytes(32).toString('base64url')}`;
const newTokenId = () => `tok_${randomBytes(8).toString('hex')}`;
const unauthenticated = (message: string) => new AegisError('UNAUTHENTICATED', message, { field: 'Authorization' });

/**
 * Local-mode bearer tokens. Only the sha256 of a token's secret is stored; the secret is
 * shown once, to whoever created (or rotated) it. Every token expires; an admin lists,
 * revokes and rotates them by their public id. A process keeps what it read about a token for
 * `limits.cacheSeconds` (see {@link TokenCache}), and writes a token's last use at most once a
 * minute, so serving a request with a known token costs no write and, mostly, no read.
 */
export class TokenService {
  readonly #cache: TokenCache;

  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
    private readonly limits: TokenLimits,
  ) {
    this.#cache = new TokenCache(limits.cacheSeconds * 1000);
  }

  /**
   * A new token for `principal` as `role` on the models of `scope` (default global: every
   * model, as tokens made before scopes existed), living `expiresIn` (default 90 days, at most
   * the configured maximum).
   */
  async create(input: { principal: string; role: Role; expiresIn?: string; scope?: Scope }, actor = 'system'): Promise<IssuedToken> {
    const ttl = tokenLifetime(input.expiresIn, this.limits);
    const scope = scopeFromText(scopeText(input.scope ?? 'global'));
    return this.database.db.transaction().execute(async (tx) => {
      const issued = await this.#issue(tx, { principal: input.principal, role: input.role, scope, ttl, actor });
      // never the secret: only who may now act as what, on which models, and until when
      const { principal, role, tokenId, expiresAt } = issued;
      await this.audit.append(tx, {
        type: 'token.created',
        actor,
        subject: `principal:${principal}`,
        payload: { principal, role, tokenId, expiresAt, ...(scope === 'global' ? {} : { scope }) },
      });
      return issued;
    });
  }

  /**
   * Who a bearer token stands for; undefined for a secret no token has. A revoked token is
   * refused (401 UNAUTHENTICATED), an expired one too (401 TOKEN_EXPIRED), each saying so.
   */
  async resolve(token: string): Promise<Principal | undefined> {
    const hash = sha256Hex(token);
    const now = this.clock.now();
    let t = this.#cache.get(hash, now);
    if (!t) {
      t = await findTokenBySecretHash(this.database.db, hash);
      if (!t) return undefined;
      this.#cache.set(hash, t, now);
    }
    const state = tokenState(t, now);
    if (state === 'revoked')
      throw unauthenticated(`token ${t.tokenId} was revoked at ${t.revokedAt!.toISOString()}; ask an admin for a new one`);
    if (state === 'expired') {
      throw new AegisError(
        'TOKEN_EXPIRED',
        `token ${t.tokenId} expired at ${t.expiresAt.toISOString()}: an admin can rotate it (aegis tokens rotate ${t.tokenId}) or create a new one; with no admin token left, restarting the local server makes a new dev admin token`,
        { field: 'Authorization' },
      );
    }
    if (lastUseIsStale(t.lastUsedAt, now)) {
      await touchLastUsed(this.database.db, { tokenId: t.tokenId, at: now, notBefore: new Date(now.getTime() - LAST_USED_EVERY_MS) });
      t.lastUsedAt = now;
    }
    // a role this release does not know (a row written by hand) grants nothing
    return { id: t.principal, role: isRole(t.role) ? t.role : 'none', scope: scopeFromText(t.scope) };
  }

  /** Every token, newest first, never a secret or hash; `cursor` is the previous page's `nextCursor`. */
  async list(opts: { limit: number; cursor?: string }): Promise<{ items: TokenRecord[]; nextCursor: string | null }> {
    const db = this.database.db;
    if (opts.cursor !== undefined && !(await findTokenById(db, opts.cursor))) {
      throw new AegisError('VALIDATION_FAILED', `query.cursor: no token ${opts.cursor}; pass the nextCursor of the previous page`, {
        field: 'query.cursor',
      });
    }
    const rows = await listTokens(db, { limit: opts.limit + 1, ...(opts.cursor !== undefined ? { after: opts.cursor } : {}) });
    const items = rows.slice(0, opts.limit).map((t) => this.#record(t));
    return { items, nextCursor: rows.length > opts.limit ? items[items.length - 1]!.tokenId : null };
  }

  /**
   * Revokes a token: refused from the next request in this process, and within
   * `cacheSeconds` in every other. Revoking a revoked token changes nothing and answers
   * its record as it is (who revoked it, and when).
   */
  async revoke(tokenId: string, actor: string): Promise<TokenRecord> {
    const revoked = await this.database.db.transaction().execute(async (tx) => {
      const t = await this.#existing(tx, tokenId);
      if (t.revokedAt) return t;
      const done = (await revokeToken(tx, { tokenId, at: this.clock.now(), by: actor }))!;
      await this.audit.append(tx, {
        type: 'token.revoked',
        actor,
        subject: `principal:${done.principal}`,
        payload: { tokenId, principal: done.principal, role: done.role, revokedAt: done.revokedAt!.toISOString() },
      });
      return done;
    });
    this.#cache.forget(tokenId);
    return this.#record(revoked);
  }

  /**
   * A new secret for the same principal and role, living `expiresIn` (default 90 days); the
   * old token is revoked in the same transaction. A revoked token cannot be rotated (409):
   * create a new one.
   */
  async rotate(tokenId: string, opts: { expiresIn?: string }, actor: string): Promise<IssuedToken & { rotatedFrom: string }> {
    const ttl = tokenLifetime(opts.expiresIn, this.limits);
    const issued = await this.database.db.transaction().execute(async (tx) => {
      const old = await this.#existing(tx, tokenId);
      const role = old.role;
      if (old.revokedAt || !isRole(role)) {
        const why = old.revokedAt ? `was revoked at ${old.revokedAt.toISOString()}` : `has role ${role}, which this release does not know`;
        throw new AegisError('CONFLICT', `token ${tokenId} ${why}: create a new token instead`, { field: 'tokenId' });
      }
      await revokeToken(tx, { tokenId, at: this.clock.now(), by: actor });
      const made = await this.#issue(tx, { principal: old.principal, role, scope: scopeFromText(old.scope), ttl, actor });
      await this.audit.append(tx, {
        type: 'token.rotated',
        actor,
        subject: `principal:${old.principal}`,
        payload: { tokenId, newTokenId: made.tokenId, principal: old.principal, role, expiresAt: made.expiresAt },
      });
      return made;
    });
    this.#cache.forget(tokenId);
    return { ...issued, rotatedFrom: tokenId };
  }

  /** How many tokens of `role` can be used now (neither revoked nor expired). */
  async usable(role: Role): Promise<number> {
    return countUsableTokens(this.database.db, role, this.clock.now());
  }

  /** The token with this secret as listed (state, expiry, …), or undefined when no token has it. */
  async describe(token: string): Promise<TokenRecord | undefined> {
    const t = await findTokenBySecretHash(this.database.db, sha256Hex(token));
    return t && this.#record(t);
  }

  async #issue(tx: Executor, t: { principal: string; role: Role; scope: Scope; ttl: number; actor: string }): Promise<IssuedToken> {
    const token = secret();
    const tokenId = newTokenId();
    const createdAt = this.clock.now();
    const expiresAt = new Date(createdAt.getTime() + t.ttl * 1000);
    await insertToken(
      tx,
      tokenRow({
        tokenSha256: sha256Hex(token),
        tokenId,
        principal: t.principal,
        role: t.role,
        createdAt,
        createdBy: t.actor,
        expiresAt,
        scope: scopeText(t.scope),
      }),
    );
    return {
      token,
      tokenId,
      principal: t.principal,
      role: t.role,
      scope: t.scope,
      createdAt: createdAt.toISOString(),
      expiresAt: expiresAt.toISOString(),
    };
  }

  async #existing(tx: Executor, tokenId: string): Promise<StoredToken> {
    const t = await findTokenById(tx, tokenId, { forUpdate: true });
    if (!t) throw new AegisError('NOT_FOUND', `no token ${tokenId}`, { field: 'tokenId' });
    return t;
  }

  #record(t: StoredToken): TokenRecord {
    return {
      tokenId: t.tokenId,
      principal: t.principal,
      role: t.role,
      scope: scopeFromText(t.scope),
      state: tokenState(t, this.clock.now()),
      createdAt: t.createdAt.toISOString(),
      createdBy: t.createdBy,
      expiresAt: t.expiresAt.toISOString(),
      lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
      revokedAt: t.revokedAt?.toISOString() ?? null,
      revokedBy: t.revokedBy,
    };
  }
}
