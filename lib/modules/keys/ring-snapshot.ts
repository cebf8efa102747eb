/** The key ring as a process caches it: one version of the whole public ring, and the active key per purpose. */
import type { KeyPurpose, KeyRecord } from '../../kernel/signatures.js';
import type { ActiveKey } from './store.js';

/** The key ring as this process last read it (every key, and the active one per purpose), and the ring's version (`audit_head.key_ring_seq`) it is of. */
export interface RingSnapshot extends RingView {
  readonly active: ReadonlyMap<KeyPurpose, ActiveKey>;
}

export const snapshot = (seq: number, ring: readonly ActiveKey[]): RingSnapshot => {
  const active = new Map<KeyPurpose, ActiveKey>();
  // newest first: the first of a purpose neither rotated out nor revoked is its active key
  for (const k of ring)
    if (k.record.notAfter === null && k.record.revokedAt === null && !active.has(k.record.purpose)) active.set(k.record.purpose, k);
  return { seq, keys: new Map(ring.map((k) => [k.record.kid, k.record])), active };
};

/**
 * The public key ring as one version of it: what a decision checks signatures with before its
 * transaction, confirmed with {@link KeyService.isRingCurrent} after the transaction's audit append.
 */
export interface RingView {
  /** the ring's version (`audit_head.key_ring_seq`) */
  readonly seq: number;
  readonly keys: ReadonlyMap<string, KeyRecord>;
}
