import { PgliteDatabase } from '../../lib/platform/adapters/sql/pglite.js';
import { databaseContract } from './database.contract.js';

databaseContract('PGlite (embedded)', async () => ({ database: await PgliteDatabase.open(), cleanup: async () => undefined }));
