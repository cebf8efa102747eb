/** The tokens module's table: `api_tokens`. The only code that builds SQL on it. */
import type { Insertable } from 'kysely';
import type { Executor } from '../../platform/ports/database.js';
import type { ApiTokensTable } from '../../platform/sql/schema.js';

/** A new, unrevoked token, stored by the sha256 of its secret. */
export function tokenRow(t: {
  tokenSha256: string;
  principal: string;
  role: string;
  scope: string | null;
  createdAt: Date;
}): Insertable<ApiTokensTable> {
  return { token_sha256: t.tokenSha256, principal: t.principal, role: t.role, scope: t.scope, created_at: t.createdAt, revoked_at: null };
}

export async function insertToken(x: Executor, row: Insertable<ApiTokensTable>): Promise<void> {
  await x.insertInto('api_tokens').values(row).execute();
}

/** Who an unrevoked token stands for, by the sha256 of its secret. */
export async function findActiveToken(
  x: Executor,
  tokenSha256: string,
): Promise<{ principal: string; role: string; scope: string | null } | undefined> {
  return x
    .selectFrom('api_tokens')
    .select(['principal', 'role', 'scope'])
    .where('token_sha256', '=', tokenSha256)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

export async function countTokens(x: Executor): Promise<number> {
  const r = await x
    .selectFrom('api_tokens')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
