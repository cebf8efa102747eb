/** The dataset registry's records and rules (no I/O). */
import { canonicalJson } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';
import { LIMITS, type DatasetRef } from '../../kernel/manifest.js';

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

/** Refuses a schema over {@link LIMITS.datasetSchemaBytes} as canonical JSON. */
export function assertSchemaSize(schema: Record<string, unknown> | undefined): void {
  if (schema === undefined) return;
  const size = Buffer.byteLength(canonicalJson(schema));
  if (size > LIMITS.datasetSchemaBytes) {
    throw new AegisError(
      'PAYLOAD_TOO_LARGE',
      `schema is ${size} bytes as canonical JSON; dataset schemas are limited to ${LIMITS.datasetSchemaBytes} bytes`,
      { field: 'schema', details: { size, limit: LIMITS.datasetSchemaBytes } },
    );
  }
}

/** `id@version` is immutable: the same checksum replays the record, another one is a conflict. */
export function sameOrConflict(existing: DatasetRecord, input: DatasetInput): DatasetRecord {
  if (existing.checksum !== input.checksum) {
    throw new AegisError(
      'CONFLICT',
      `dataset ${input.id}@${input.version} is already registered with checksum ${existing.checksum}; register a new version`,
      { field: 'checksum' },
    );
  }
  return existing;
}

/** Refuses the manifest's `i`-th datasetRef when it is unknown or contradicts the registered checksum. */
export function checkRef(ref: DatasetRef, i: number, record: DatasetRecord | undefined): void {
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
