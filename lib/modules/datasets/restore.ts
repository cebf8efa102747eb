/**
 * Restoring the datasets module from the chain: a `datasets` row per `dataset.registered`
 * event, and the datasets a restored manifest names that the archive does not hold.
 */
import type { Insertable } from 'kysely';
import type { AuditEvent } from '../../kernel/audit-chain.js';
import type { DatasetRef } from '../../kernel/manifest.js';
import type { Executor } from '../../platform/ports/database.js';
import type { DatasetsTable } from '../../platform/sql/schema.js';
import { handlerFor, inChunks, parsePayload, RECOVERY_ACTOR, type RestoreLog } from '../restore.js';
import type { DatasetRecord } from './domain.js';
import { DatasetRegisteredPayload } from './events.js';
import { datasetRow, insertDatasets } from './store.js';

export interface DatasetRows {
  datasets: DatasetsRow[];
}

type DatasetsRow = Insertable<DatasetsTable>;

const key = (r: { id: string; version: string }) => `${r.id}@${r.version}`;

/** The datasets restored so far (their checksums), and the rows planned since the last {@link DatasetRestore.take}. */
export class DatasetRestore {
  #rows: DatasetsRow[] = [];
  readonly #checksums = new Map<string, string>();

  /** Replays one event of a type in {@link RESTORES}; any other is ignored. */
  apply(e: AuditEvent, log: RestoreLog): void {
    handlerFor(HANDLERS, e.type)?.(this, e, log);
  }

  add(d: DatasetRecord): void {
    this.#rows.push(datasetRow(d));
    this.#checksums.set(key(d), d.checksum);
  }

  /** The first of `refs` restored with another checksum than it names. */
  clash(refs: readonly DatasetRef[]): DatasetRef | undefined {
    return refs.find((r) => this.#checksums.has(key(r)) && this.#checksums.get(key(r)) !== r.checksum);
  }

  /**
   * Datasets must exist for a restored artifact's links. Registration refuses unknown
   * datasets, so a missing one was registered after the last archive run: it is rebuilt from
   * the signed datasetRef (checksum and, when recorded, uri) and reported.
   */
  ensure(a: { artifactId: string; datasetRefs: readonly DatasetRef[] }, signedAt: string, log: RestoreLog): void {
    for (const r of a.datasetRefs) {
      if (this.#checksums.has(key(r))) continue;
      const uri = r.uri ?? 'urn:aegis:unknown';
      this.add({ id: r.id, version: r.version, checksum: r.checksum, uri, schema: null, createdBy: RECOVERY_ACTOR, createdAt: signedAt });
      log.warnings.push(
        `dataset ${key(r)} is not in the archive: reconstructed from the manifest of ${a.artifactId} (checksum kept${r.uri ? '' : ', uri unknown'}, schema unknown)`,
      );
    }
  }

  /** The rows planned since the last call, for one phase's transaction. */
  take(): DatasetRows {
    const datasets = this.#rows;
    this.#rows = [];
    return { datasets };
  }
}
const HANDLERS: Readonly<Record<string, (r: DatasetRestore, e: AuditEvent, log: RestoreLog) => void>> = {
  'dataset.registered': (r, e, log) => {
    const d = parsePayload(DatasetRegisteredPayload, e, 'dataset', log);
    if (d)
      r.add({
        id: d.id,
        version: d.version,
        checksum: d.checksum,
        uri: d.uri,
        schema: d.schema,
        createdBy: e.actor,
        createdAt: d.createdAt,
      });
  },
};

/** The event types the datasets restore reads. */
export const RESTORES: readonly string[] = Object.keys(HANDLERS);

/** Writes the rows in the caller's transaction. */
export async function writeDatasets(x: Executor, rows: DatasetRows): Promise<void> {
  await inChunks(rows.datasets, (part) => insertDatasets(x, part));
}
