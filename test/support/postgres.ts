import pg from 'pg';
import { randomBytes } from 'node:crypto';

const ADMIN_URL = process.env.AEGIS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * A fresh database on the PostgreSQL server for one test file, dropped afterwards.
 * Returns undefined (and says why) when no server is reachable outside CI; in CI a
 * missing server is an error, never a skip.
 */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> } | undefined> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await admin.connect();
  } catch (e) {
    if (process.env.CI) throw new Error(`PostgreSQL server required in CI at ${ADMIN_URL}: ${(e as Error).message}`, { cause: e });
    console.warn(`skipping PostgreSQL server tests: no server at ${ADMIN_URL} (${(e as Error).message})`);
    return undefined;
  }
  const name = `aegis_test_${Date.now()}_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
