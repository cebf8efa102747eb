import { PgDatabase } from '../../lib/platform/adapters/sql/pg.js';
import { createTestDatabase } from '../support/postgres.js';
import { NO_POSTGRES } from '../support/unavailable.js';
import { databaseContract } from './database.contract.js';

// probed before the suite is defined: absent only outside CI, and then reported skipped
const testDb = await createTestDatabase();

databaseContract(
  'PostgreSQL server (pg)',
  async () => ({ database: new PgDatabase(testDb!.url), cleanup: () => testDb!.drop() }),
  testDb ? {} : { skip: NO_POSTGRES },
);
