/** Signed, hash-chained audit events built outside the registry: the parity tests and the audit benches. */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { eventHash, eventStatement, GENESIS_HASH, type AuditEvent } from '../../lib/kernel/audit-chain.js';
import type { KeyRecord } from '../../lib/kernel/signatures.js';

/** A fresh Ed25519 audit key and its key-ring record. */
export function auditKeyPair(kid: string): { privateKey: KeyObject; publicKey: KeyObject; record: KeyRecord } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const record: KeyRecord = {
    kid,
    purpose: 'audit',
    alg: 'ed25519',
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    backend: 'file',
    notBefore: '2000-01-01T00:00:00.000Z',
    notAfter: null,
    revokedAt: null,
  };
  return { privateKey, publicKey, record };
}

/**
 * `n` events after `after` (default: genesis), each linked to the one before and hashed; signed
 * with `privateKey` when given, else left for the caller to sign (`signature: ''`: a signer that
 * only signs asynchronously, such as a running server's).
 */
export function signedChain(
  n: number,
  o: {
    signerId: string;
    privateKey?: KeyObject;
    after?: { seq: number; hash: string };
    event: (seq: number) => Pick<AuditEvent, 'eventId' | 'type' | 'actor' | 'subject' | 'payload' | 'ts'>;
  },
): AuditEvent[] {
  const events: AuditEvent[] = [];
  let prev = o.after ?? { seq: 0, hash: GENESIS_HASH };
  for (let i = 1; i <= n; i++) {
    const seq = prev.seq + 1;
    const u = { seq, ...o.event(seq), prevHash: prev.hash, signerId: o.signerId };
    const hash = eventHash(u);
    const signature = o.privateKey ? sign(null, eventStatement(seq, hash), o.privateKey).toString('base64') : '';
    events.push({ ...u, hash, signature });
    prev = { seq, hash };
  }
  return events;
}
