/** The datasets module's table: `datasets`. The only code that builds SQL on it. */
import type { Insertable, Selectable } from 'kysely';
import { canonicalJson } from '../../kernel/canonical.js';
import type { Executor } from '../../platform/ports/database.js';
import { toDate, toIso, type DatasetsTable } from '../../platform/sql/schema.js';
import type { DatasetRecord } from './domain.js';

export function toDatasetRecord(r: Selectable<DatasetsTable>): DatasetRecord {
  return {
    id: r.dataset_id,
    version: r.version,
    checksum: r.checksum,
    uri: r.uri,
    schema: r.schema === null ? null : (JSON.parse(r.schema) as Record<string, unknown>),
    createdBy: r.created_by,
    createdAt: toIso(r.created_at),
  };
}

/** The row of a dataset record (the schema as canonical JSON). */
export function datasetRow(d: DatasetRecord): Insertable<DatasetsTable> {
  return {
    dataset_id: d.id,
    version: d.version,
    checksum: d.checksum,
    uri: d.uri,
    schema: d.schema === null ? null : canonicalJson(d.schema),
    created_by: d.createdBy,
    created_at: toDate(d.createdAt),
  };
}

export async function insertDataset(x: Executor, row: Insertable<DatasetsTable>): Promise<void> {
  await x.insertInto('datasets').values(row).execute();
}

/** Several rows in one statement (a restore); at least one. */
export async function insertDatasets(x: Executor, rows: Insertable<DatasetsTable>[]): Promise<void> {
  await x.insertInto('datasets').values(rows).execute();
}

/** Every row, by id and version (parity). */
export async function allDatasetRows(x: Executor): Promise<Selectable<DatasetsTable>[]> {
  return x.selectFrom('datasets').selectAll().orderBy('dataset_id').orderBy('version').execute();
}

export async function findDataset(x: Executor, id: string, version: string): Promise<DatasetRecord | undefined> {
  const row = await x.selectFrom('datasets').selectAll().where('dataset_id', '=', id).where('version', '=', version).executeTakeFirst();
  return row ? toDatasetRecord(row) : undefined;
}

/** The records of these `id@version` pairs that exist, in no particular order. */
export async function findDatasets(x: Executor, refs: readonly { id: string; version: string }[]): Promise<DatasetRecord[]> {
  if (refs.length === 0) return [];
  const rows = await x
    .selectFrom('datasets')
    .selectAll()
    .where((eb) => eb.or(refs.map((r) => eb.and([eb('dataset_id', '=', r.id), eb('version', '=', r.version)]))))
    .execute();
  return rows.map(toDatasetRecord);
}
