/**
 * The registry's listing reads on `models` and `artifacts` (the console's models page): with
 * store.ts, the only code that builds SQL on the module's tables.
 */
import type { ExpressionBuilder, SqlBool, Expression } from 'kysely';
import type { ScopeGrant, Scope } from '../../kernel/identity.js';
import type { Executor } from '../../platform/ports/database.js';
import { toIso } from '../../platform/sql/schema.js';

/**
 * Up to `limit` models named after `after`, by name; with a scope grant, only those whose name
 * starts with one of its prefixes or whose team is one of its teams (filtered in the query, so
 * pages stay full and the cursor never names a model outside the scope); with `contains`, only
 * those whose name contains it (names are lowercase: the caller lowercases it).
 */
export async function listModels(
  x: Executor,
  q: { limit: number; after?: string | undefined; scope: Scope; contains?: string | undefined },
) {
  let query = x.selectFrom('models').selectAll().orderBy('name').limit(q.limit);
  if (q.after) query = query.where('name', '>', q.after);
  // strpos, not LIKE: `_` and `%` in the query are characters, not wildcards
  if (q.contains) query = query.where((eb) => eb(eb.fn<number>('strpos', ['name', eb.val(q.contains)]), '>', 0));
  const scope = q.scope;
  if (scope !== 'global') query = query.where((eb) => modelInScope(eb, scope, { name: 'name', team: 'team' }));
  return (await query.execute()).map((r) => ({
    name: r.name,
    latestVersion: r.latest_version,
    team: r.team,
    createdAt: toIso(r.created_at),
  }));
}

/**
 * The condition that a `models` row is within a scope grant: its name starts with one of the
 * grant's prefixes or its team is one of its teams (`inScope` in SQL), on the columns named.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any query's builder: the columns are named by the caller
export function modelInScope<EB extends ExpressionBuilder<any, any>>(
  eb: EB,
  scope: ScopeGrant,
  cols: { name: string; team: string },
): Expression<SqlBool> {
  return eb.or([
    // starts_with, not LIKE: `_` in a prefix is a character, not a wildcard
    ...scope.prefixes.map((p) => eb.fn<boolean>('starts_with', [eb.ref(cols.name), eb.val(p)])),
    ...(scope.teams.length ? [eb(eb.ref(cols.team), 'in', scope.teams)] : []),
  ]);
}

/** The version of each of these artifacts that exists, by artifact id (one query). */
export async function artifactVersions(x: Executor, artifactIds: readonly string[]): Promise<Map<string, number>> {
  if (artifactIds.length === 0) return new Map();
  const rows = await x
    .selectFrom('artifacts')
    .select(['artifact_id', 'version'])
    .where('artifact_id', 'in', [...artifactIds])
    .execute();
  return new Map(rows.map((r) => [r.artifact_id, r.version]));
}
