import type { ColumnType } from 'kysely';

/** int8 comes back as string from pg and as number from the Data API. */
type Int8 = ColumnType<string | number, number, number>;

/** The audit log's tables (`lib/platform/audit/log.ts` owns them). */
export interface AuditEventsTable {
  seq: Int8;
  event_id: string;
  type: string;
  actor: string;
  subject: string;
  payload: string;
  ts: string;
  prev_hash: string;
  hash: string;
  signature: string;
  signer_id: string;
}

export interface AuditHeadTable {
  id: number;
  seq: Int8;
  hash: string;
  /** seq of the last event that changed the key ring (migration 0017); the ring's version */
  key_ring_seq: ColumnType<string | number, number | undefined, number>;
}
