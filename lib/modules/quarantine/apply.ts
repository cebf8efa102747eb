/** Applying a quarantine request: its record signed with the manifest key (as promotion records are), stored and audited in the caller's transaction. */
import type { AuditLog } from '../../platform/audit/log.js';
import type { Transaction } from 'kysely';
import type { DB } from '../../platform/sql/schema.js';
import type { KeyService } from '../keys/service.js';
import { quarantineRecord, quarantineRecordBytes, type QuarantineRequest, type RecordSignature } from './domain.js';
import { markApplied } from './store.js';

/** Signs and stores the applied request, with its `quarantine.applied` event; the signed record. */
export async function applyRequest(
  d: { keys: KeyService; audit: AuditLog },
  tx: Transaction<DB>,
  q: QuarantineRequest,
  at: Date,
  actor: string,
): Promise<RecordSignature> {
  const record = quarantineRecord(q, at);
  const signer = await d.keys.activeSigner('manifest', tx);
  const recordSignature: RecordSignature = {
    signerId: signer.kid,
    alg: signer.alg,
    ts: at.toISOString(),
    signature: (await signer.sign(quarantineRecordBytes(record))).toString('base64'),
  };
  await markApplied(tx, q.requestId, at, recordSignature);
  await d.audit.append(tx, {
    type: 'quarantine.applied',
    actor,
    subject: `artifact:${q.artifactId}`,
    payload: { ...record, recordSignature },
  });
  return recordSignature;
}
