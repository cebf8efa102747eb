import { PgDatabase } from '../../lib/adapters/local/pg-database.js';
import { createTestDatabase } from '../support/postgres.js';
import { databaseContract } from './database.contract.js';

databaseContract('PostgreSQL server (pg)', async () => {
  const testDb = await createTestDatabase();
  if (!testDb) return undefined;
  return { database: new PgDatabase(testDb.url), cleanup: () => testDb.drop() };
});
