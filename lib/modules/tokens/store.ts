/** The tokens module's table: `api_tokens`. The only code that builds SQL on it. */
import type { Insertable, Selectable } from 'kysely';
import type { Executor } from '../../platform/ports/database.js';
import { toDate, toDateOrNull, type ApiTokensTable } from '../../platform/sql/schema.js';

/** A token as the service reads it: everything but the hash of its secret. */
export interface StoredToken {
  tokenId: string;
  principal: string;
  role: string;
  createdAt: Date;
  createdBy: string | null;
  expiresAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
  /** canonical JSON of the scope grant (0009_model_scopes); null: global */
  scope: string | null;
}

const COLUMNS = [
  'token_id',
  'principal',
  'role',
  'created_at',
  'created_by',
  'expires_at',
  'last_used_at',
  'revoked_at',
  'revoked_by',
  'scope',
] as const;

function fromRow(r: Pick<Selectable<ApiTokensTable>, (typeof COLUMNS)[number]>): StoredToken {
  return {
    tokenId: r.token_id,
    principal: r.principal,
    role: r.role,
    createdAt: toDate(r.created_at),
    createdBy: r.created_by,
    expiresAt: toDate(r.expires_at),
    lastUsedAt: toDateOrNull(r.last_used_at),
    revokedAt: toDateOrNull(r.revoked_at),
    revokedBy: r.revoked_by,
    scope: r.scope,
  };
}

/** A new, unrevoked token, stored by the sha256 of its secret. */
export function tokenRow(t: {
  tokenSha256: string;
  tokenId: string;
  principal: string;
  role: string;
  createdAt: Date;
  createdBy: string;
  expiresAt: Date;
  scope: string | null;
}): Insertable<ApiTokensTable> {
  return {
    token_sha256: t.tokenSha256,
    token_id: t.tokenId,
    principal: t.principal,
    role: t.role,
    created_at: t.createdAt,
    created_by: t.createdBy,
    expires_at: t.expiresAt,
    last_used_at: null,
    revoked_at: null,
    revoked_by: null,
    scope: t.scope,
  };
}

export async function insertToken(x: Executor, row: Insertable<ApiTokensTable>): Promise<void> {
  await x.insertInto('api_tokens').values(row).execute();
}

/** The token whose secret has this sha256, whatever its state. */
export async function findTokenBySecretHash(x: Executor, tokenSha256: string): Promise<StoredToken | undefined> {
  const r = await x.selectFrom('api_tokens').select(COLUMNS).where('token_sha256', '=', tokenSha256).executeTakeFirst();
  return r && fromRow(r);
}

/** A token by its public id; `forUpdate` locks its row for the caller's transaction. */
export async function findTokenById(x: Executor, tokenId: string, opts: { forUpdate?: boolean } = {}): Promise<StoredToken | undefined> {
  let q = x.selectFrom('api_tokens').select(COLUMNS).where('token_id', '=', tokenId);
  if (opts.forUpdate) q = q.forUpdate();
  const r = await q.executeTakeFirst();
  return r && fromRow(r);
}

/** Newest first (the id breaks ties); `after` is the last token id of the previous page. */
export async function listTokens(x: Executor, opts: { limit: number; after?: string }): Promise<StoredToken[]> {
  let q = x.selectFrom('api_tokens').select(COLUMNS);
  if (opts.after !== undefined) {
    const after = opts.after;
    // compared in the database: created_at keeps microseconds a JavaScript Date would drop
    q = q.where((eb) =>
      eb(
        eb.refTuple('created_at', 'token_id'),
        '<',
        eb
          .selectFrom('api_tokens as c')
          .select(['c.created_at', 'c.token_id'])
          .where('c.token_id', '=', after)
          .$asTuple('created_at', 'token_id'),
      ),
    );
  }
  const rows = await q.orderBy('created_at', 'desc').orderBy('token_id', 'desc').limit(opts.limit).execute();
  return rows.map(fromRow);
}

/** Revokes an unrevoked token; undefined when it was revoked already (or is unknown). */
export async function revokeToken(x: Executor, t: { tokenId: string; at: Date; by: string }): Promise<StoredToken | undefined> {
  const r = await x
    .updateTable('api_tokens')
    .set({ revoked_at: t.at, revoked_by: t.by })
    .where('token_id', '=', t.tokenId)
    .where('revoked_at', 'is', null)
    .returning(COLUMNS)
    .executeTakeFirst();
  return r && fromRow(r);
}

/**
 * Records a use at `at` unless one at or after `notBefore` is recorded already: however
 * many processes serve the token, its row is written at most once per interval.
 */
export async function touchLastUsed(x: Executor, t: { tokenId: string; at: Date; notBefore: Date }): Promise<void> {
  await x
    .updateTable('api_tokens')
    .set({ last_used_at: t.at })
    .where('token_id', '=', t.tokenId)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', t.notBefore)]))
    .execute();
}

/** How many tokens of a role are neither revoked nor expired at `now`. */
export async function countUsableTokens(x: Executor, role: string, now: Date): Promise<number> {
  const r = await x
    .selectFrom('api_tokens')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('role', '=', role)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
