import { canonicalJson } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';
import { LIMITS, type DatasetRef } from '../../kernel/manifest.js';
import { isUniqueViolation } from '../../platform/sql/errors.js';
import { toIso } from '../../platform/sql/schema.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database, Executor } from '../../platform/ports/database.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { Principal } from '../../kernel/identity.js';

export interface DatasetRecord {
  id: string;
  version: string;
  checksum: string;
  uri: string;
  schema: Record<string, unknown> | null;
  createdBy: string;
  createdAt: string;
}

export interface DatasetInput {
  id: string;
  version: string;
  checksum: string;
  uri: string;
  schema?: Record<string, unknown> | undefined;
}

function toRecord(r: {
  dataset_id: string;
  version: string;
  checksum: string;
  uri: string;
  schema: string | null;
  created_by: string;
  created_at: Date | string;
}): DatasetRecord {
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

/**
 * The dataset registry: immutable `id@version` records with the checksum a training run
 * must match. Registering the same record again replays it; another checksum is a conflict.
 */
export class DatasetService {
  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
  ) {}

  async register(input: DatasetInput, principal: Principal): Promise<{ record: DatasetRecord; replayed: boolean }> {
    if (input.schema !== undefined) {
      const size = Buffer.byteLength(canonicalJson(input.schema));
      if (size > LIMITS.datasetSchemaBytes) {
        throw new AegisError(
          'PAYLOAD_TOO_LARGE',
          `schema is ${size} bytes as canonical JSON; dataset schemas are limited to ${LIMITS.datasetSchemaBytes} bytes`,
          { field: 'schema', details: { size, limit: LIMITS.datasetSchemaBytes } },
        );
      }
    }
    const existing = await this.get(input.id, input.version);
    if (existing) return { record: this.#sameOrConflict(existing, input), replayed: true };
    try {
      const now = this.clock.now();
      await this.database.db.transaction().execute(async (tx) => {
        await tx
          .insertInto('datasets')
          .values({
            dataset_id: input.id,
            version: input.version,
            checksum: input.checksum,
            uri: input.uri,
            schema: input.schema === undefined ? null : canonicalJson(input.schema),
            created_by: principal.id,
            created_at: now,
          })
          .execute();
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
      return { record: this.#sameOrConflict((await this.get(input.id, input.version))!, input), replayed: true };
    }
    return { record: (await this.get(input.id, input.version))!, replayed: false };
  }

  #sameOrConflict(existing: DatasetRecord, input: DatasetInput): DatasetRecord {
    if (existing.checksum !== input.checksum) {
      throw new AegisError(
        'CONFLICT',
        `dataset ${input.id}@${input.version} is already registered with checksum ${existing.checksum}; register a new version`,
        { field: 'checksum' },
      );
    }
    return existing;
  }

  async get(id: string, version: string, db: Executor = this.database.db): Promise<DatasetRecord | undefined> {
    const row = await db.selectFrom('datasets').selectAll().where('dataset_id', '=', id).where('version', '=', version).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  /** Refuses manifests whose datasetRefs are unknown or contradict the registered checksum. */
  async checkRefs(refs: readonly DatasetRef[]): Promise<void> {
    for (const [i, ref] of refs.entries()) {
      const record = await this.get(ref.id, ref.version);
      if (!record) {
        throw new AegisError('DATASET_UNKNOWN', `dataset ${ref.id}@${ref.version} is not registered (POST /v1/datasets first)`, {
          field: `manifest.datasetRefs.${i}`,
        });
      }
      if (record.checksum !== ref.checksum) {
        throw new AegisError(
          'DATASET_CHECKSUM_MISMATCH',
          `dataset ${ref.id}@${ref.version} is registered with checksum ${record.checksum}, not ${ref.checksum}`,
          {
            field: `manifest.datasetRefs.${i}.checksum`,
            details: { expected: record.checksum, actual: ref.checksum },
          },
        );
      }
    }
  }

  async forArtifact(artifactId: string): Promise<DatasetRecord[]> {
    const rows = await this.database.db
      .selectFrom('artifact_datasets as l')
      .innerJoin('datasets as d', (j) => j.onRef('d.dataset_id', '=', 'l.dataset_id').onRef('d.version', '=', 'l.version'))
      .selectAll('d')
      .where('l.artifact_id', '=', artifactId)
      .orderBy('d.dataset_id')
      .orderBy('d.version')
      .execute();
    return rows.map(toRecord);
  }
}
