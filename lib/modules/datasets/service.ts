import type { DatasetRef } from '../../kernel/manifest.js';
import { isUniqueViolation } from '../../platform/sql/errors.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database, Executor } from '../../platform/ports/database.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { Principal } from '../../kernel/identity.js';
import { assertSchemaSize, checkRef, sameOrConflict, type DatasetInput, type DatasetRecord } from './domain.js';
import { datasetRow, findDataset, findDatasets, insertDataset } from './store.js';

export type { DatasetRecord } from './domain.js';

/** How many dataset records a process keeps for {@link DatasetService.checkRefs}. */
const KNOWN_MAX = 10_000;
const datasetKey = (id: string, version: string) => `${id}@${version}`;

/**
 * The dataset registry: immutable `id@version` records with the checksum a training run
 * must match. Registering the same record again replays it; another checksum is a conflict.
 */
export class DatasetService {
  /** registered records by `id@version`, oldest first (see {@link checkRefs}) */
  readonly #known = new Map<string, DatasetRecord>();

  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
  ) {}

  async register(input: DatasetInput, principal: Principal): Promise<{ record: DatasetRecord; replayed: boolean }> {
    assertSchemaSize(input.schema);
    const existing = await this.get(input.id, input.version);
    if (existing) return { record: sameOrConflict(existing, input), replayed: true };
    try {
      const now = this.clock.now();
      const record: DatasetRecord = {
        id: input.id,
        version: input.version,
        checksum: input.checksum,
        uri: input.uri,
        schema: input.schema ?? null,
        createdBy: principal.id,
        createdAt: now.toISOString(),
      };
      await this.database.db.transaction().execute(async (tx) => {
        await insertDataset(tx, datasetRow(record));
        await this.audit.append(tx, {
          type: 'dataset.registered',
          actor: principal.id,
          subject: `dataset:${input.id}@${input.version}`,
          payload: {
            id: input.id,
            version: input.version,
            checksum: input.checksum,
            uri: input.uri,
            schema: input.schema ?? null,
            createdAt: now.toISOString(),
          },
        });
      });
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      return { record: sameOrConflict((await this.get(input.id, input.version))!, input), replayed: true };
    }
    return { record: (await this.get(input.id, input.version))!, replayed: false };
  }

  async get(id: string, version: string, db: Executor = this.database.db): Promise<DatasetRecord | undefined> {
    return findDataset(db, id, version);
  }

  /** The records of `refs`, in their order; a ref not registered is left out. */
  async getMany(refs: readonly { id: string; version: string }[]): Promise<DatasetRecord[]> {
    const found = new Map((await findDatasets(this.database.db, refs)).map((d) => [datasetKey(d.id, d.version), d]));
    return refs.flatMap((r) => found.get(datasetKey(r.id, r.version)) ?? []);
  }

  /**
   * Refuses manifests whose datasetRefs are unknown or contradict the registered checksum. A
   * record is immutable once registered, so the records found are kept for the process's life
   * (at most {@link KNOWN_MAX}): a registration naming known datasets reads none, and the
   * others are read in one statement. An unknown ref is never cached: it may be registered next.
   */
  async checkRefs(refs: readonly DatasetRef[]): Promise<void> {
    const missing = refs.filter((r) => !this.#known.has(datasetKey(r.id, r.version)));
    for (const d of await findDatasets(this.database.db, missing)) {
      if (this.#known.size >= KNOWN_MAX) this.#known.delete(this.#known.keys().next().value!);
      this.#known.set(datasetKey(d.id, d.version), d);
    }
    for (const [i, ref] of refs.entries()) checkRef(ref, i, this.#known.get(datasetKey(ref.id, ref.version)));
  }
}
