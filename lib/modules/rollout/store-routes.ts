/**
 * The rollout module's reads of many models' routes at once (the console's models page): with
 * store.ts, the only code that builds SQL on the `routes` table.
 */
import type { Selectable } from 'kysely';
import type { Executor } from '../../platform/ports/database.js';
import type { DB } from '../../platform/sql/schema.js';

/** Every route of these models, by model and environment (one query). */
export async function routesOfModels(x: Executor, modelNames: readonly string[]): Promise<Selectable<DB['routes']>[]> {
  if (modelNames.length === 0) return [];
  return x
    .selectFrom('routes')
    .selectAll()
    .where('model_name', 'in', [...modelNames])
    .orderBy('model_name')
    .orderBy('env')
    .execute();
}
