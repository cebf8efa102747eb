import type { Executor } from '../../platform/ports/database.js';
import type { Signer } from '../../platform/ports/signer.js';
import type { KeyService } from '../keys/service.js';
import { promotionRecordBytes } from './domain.js';

/** A promotion record's signature, as stored (`record_signature`) and audited (`recordSignature`). */
export interface RecordSignature {
  signerId: string;
  alg: string;
  ts: string;
  signature: string;
}

/** What every signed promotion record starts with: which promotion, of which artifact and signed manifest, to where. */
export interface RecordIdentity {
  promotionId: string;
  kind: string;
  artifactId: string;
  targetEnv: string;
  manifestSignatureId: string;
}

/** The {@link RecordIdentity} fields of a promotion, alone (a record signs exactly what it names). */
export function recordIdentity(p: RecordIdentity): RecordIdentity {
  const { promotionId, kind, artifactId, targetEnv, manifestSignatureId } = p;
  return { promotionId, kind, artifactId, targetEnv, manifestSignatureId };
}

/**
 * Signs a promotion record with the active manifest key as `tx` sees it: the record as its
 * rollout ends. The gates verify it (gate-evidence.ts).
 */
export async function signPromotionRecord(
  keys: KeyService,
  tx: Executor,
  record: Record<string, unknown>,
  at: Date,
): Promise<RecordSignature> {
  return signRecordWith(await keys.activeSigner('manifest', tx), record, at);
}

/** Signs a promotion record with `signer` (a request's: the manifest signer of the ring it confirms at its commit). */
export async function signRecordWith(signer: Signer, record: Record<string, unknown>, at: Date): Promise<RecordSignature> {
  return {
    signerId: signer.kid,
    alg: signer.alg,
    ts: at.toISOString(),
    signature: (await signer.sign(promotionRecordBytes(record))).toString('base64'),
  };
}
