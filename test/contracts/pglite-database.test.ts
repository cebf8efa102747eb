import { PgliteDatabase } from '../../lib/adapters/local/pglite-database.js';
import { databaseContract } from './database.contract.js';

databaseContract('PGlite (embedded)', async () => ({ database: await PgliteDatabase.open(), cleanup: async () => undefined }));
