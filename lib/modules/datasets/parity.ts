/** The datasets module's table as parity compares it. */
import type { Executor } from '../../platform/ports/database.js';
import { toIso } from '../../platform/sql/schema.js';
import { allDatasetRows } from './store.js';

export interface DatasetSnapshot {
  id: string;
  checksum: string;
  uri: string;
  schema: string | null;
  createdBy: string;
  createdAt: string;
}

/** Every `datasets` row, keyed `id@version`; the schema as stored. */
export async function datasetsSnapshot(x: Executor): Promise<DatasetSnapshot[]> {
  return (await allDatasetRows(x)).map((r) => ({
    id: `${r.dataset_id}@${r.version}`,
    checksum: r.checksum,
    uri: r.uri,
    schema: r.schema,
    createdBy: r.created_by,
    createdAt: toIso(r.created_at),
  }));
}
