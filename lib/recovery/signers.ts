/** After a rebuild: can the registry write? Every active key of the server's is probed by signing. */
import { statementBytes, verifyRaw, type KeyRecord } from '../kernel/signatures.js';
import { UNKNOWN_KMS_KEY_REF, type KeyRows } from '../modules/keys/restore.js';
import type { RestoreLog } from '../modules/restore.js';
import type { KeyProvider } from '../platform/ports/signer.js';

/**
 * Every state change needs the active audit key, every registration the manifest key: an
 * active key whose private half cannot be reached (key file lost with the data folder,
 * KMS ARN unknown, another key under that name) leaves a registry that verifies but cannot
 * write. Probed by signing and verifying a throwaway statement.
 */
export async function checkSigners(
  keyProvider: KeyProvider,
  rows: KeyRows['keys'],
  ring: ReadonlyMap<string, KeyRecord>,
  report: Pick<RestoreLog, 'problems' | 'warnings'>,
): Promise<void> {
  for (const row of rows) {
    const k = ring.get(row.kid)!;
    // Only the server's own keys sign here; an enrolled approver key signs on its owner's machine.
    if (k.notAfter || k.revokedAt || k.backend === 'external') continue;
    const fail = (detail: string) => report.problems.push({ kind: 'key', id: k.kid, problem: 'signing-unavailable', detail });
    if (row.key_ref === UNKNOWN_KMS_KEY_REF) {
      fail(`active ${k.purpose} key ${k.kid} is in KMS, but its ARN is not in the audit log: pass --kms-key-ref ${k.kid}=<arn>`);
      continue;
    }
    const probe = statementBytes({ type: 'aegis.recovery-probe/v1', kid: k.kid, at: new Date().toISOString() });
    try {
      const sig = await keyProvider.signer(k.kid, k.alg, row.key_ref).sign(probe);
      if (!verifyRaw(k.alg, k.publicKey, probe, sig.toString('base64')))
        fail(`active ${k.purpose} key ${k.kid}: the private key found (${k.backend}) is not the one the ring records`);
    } catch (e) {
      fail(`active ${k.purpose} key ${k.kid} cannot sign (${(e as Error).message}): the registry verifies but cannot write until it can`);
    }
  }
  for (const k of ring.values()) {
    if (k.backend === 'kms' && (k.notAfter || k.revokedAt) && !rows.some((r) => r.kid === k.kid && r.key_ref !== UNKNOWN_KMS_KEY_REF)) {
      report.warnings.push(`retired KMS key ${k.kid} has no ARN recorded (it never signs again; its public key still verifies)`);
    }
  }
}
