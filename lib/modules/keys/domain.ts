/** Key-ring rules (no I/O). */
import { createPublicKey } from 'node:crypto';
import { AegisError } from '../../kernel/errors.js';
import type { KeyRecord } from '../../kernel/signatures.js';

/** `manifest-signer-v1` → `manifest-signer-v2`; a kid without a version suffix gets `-v2`. */
export function nextKid(kid: string): string {
  const m = /^(.*)-v(\d+)$/.exec(kid);
  return m ? `${m[1]}-v${Number(m[2]) + 1}` : `${kid}-v2`;
}

/** The algorithm of an enrolled public key (base64 DER SubjectPublicKeyInfo); only Ed25519 is accepted. */
export function enrolledKeyAlg(publicKey: string): KeyRecord['alg'] {
  try {
    const type = createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' }).asymmetricKeyType;
    if (type !== 'ed25519') throw new Error(type);
    return 'ed25519';
  } catch {
    throw new AegisError('VALIDATION_FAILED', 'publicKey must be a base64 DER SubjectPublicKeyInfo of an Ed25519 key', {
      field: 'publicKey',
    });
  }
}
