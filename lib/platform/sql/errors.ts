/**
 * The SQLSTATE of a database error: `code` on pg and PGlite errors; through the RDS Data API,
 * the `; SQLState: XXXXX` Aurora appends to the message (`ERROR: duplicate key value violates
 * unique constraint "…"\n  Detail: …; SQLState: 23505`). The state, not the message text,
 * identifies the error: the text follows the server's lc_messages and quotes user data.
 */
export function sqlState(e: unknown): string | undefined {
  const err = e as { code?: unknown; message?: unknown } | undefined;
  if (typeof err?.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code)) return err.code;
  if (typeof err?.message === 'string') return /; SQLState: ([0-9A-Z]{5})$/.exec(err.message)?.[1];
  return undefined;
}

/** Unique violation (SQLSTATE 23505) on pg, PGlite or through the Data API. */
export function isUniqueViolation(e: unknown): boolean {
  return sqlState(e) === '23505';
}

/** Serialization failure (40001) or deadlock (40P01): the transaction lost to a concurrent one, and running it again resolves it. */
export function isTransactionConflict(e: unknown): boolean {
  const state = sqlState(e);
  return state === '40001' || state === '40P01';
}
