/** Unique violation on pg/PGlite (SQLSTATE 23505) or through the Data API (message only). */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown } | undefined;
  if (err?.code === '23505') return true;
  return typeof err?.message === 'string' && /duplicate key value violates unique constraint/i.test(err.message);
}
