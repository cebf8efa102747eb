/** Trust pinning for a rebuild: the replayed key ring compared with keys kept out of band (pure). */
import type { KeyRecord } from '../kernel/signatures.js';
import { Iso } from '../platform/audit/catalogue.js';
import { KeyBody } from '../modules/keys/events.js';

export interface TrustReport {
  /** true when the archive's root key (and every key it also lists) matched `--trusted-keys` */
  pinned: boolean;
  /** the audit key whose self-signed `key.created` opens the chain */
  rootKid: string | null;
  /** keys from the archive the trusted ring does not list (trusted through the chain only) */
  unpinned: string[];
  /** keys the trusted ring lists with another public key, algorithm or purpose: fatal */
  mismatched: string[];
}

/**
 * Compares the replayed ring with a trusted one (the `GET /v1/keys` output kept out of
 * band). Without it the ring is self-certified by the chain's first event, which is only as
 * trustworthy as the bucket the archive was read from.
 */
export function checkTrust(
  ring: ReadonlyMap<string, KeyRecord>,
  rootKid: string | null,
  trusted: readonly KeyRecord[] | undefined,
): TrustReport {
  if (!trusted) return { pinned: false, rootKid, unpinned: [...ring.keys()], mismatched: [] };
  const byKid = new Map(trusted.map((k) => [k.kid, k]));
  const unpinned: string[] = [];
  const mismatched: string[] = [];
  for (const k of ring.values()) {
    const t = byKid.get(k.kid);
    if (!t) unpinned.push(k.kid);
    else if (t.publicKey !== k.publicKey || t.alg !== k.alg || t.purpose !== k.purpose) mismatched.push(k.kid);
  }
  const rootPinned = rootKid !== null && byKid.has(rootKid) && !mismatched.includes(rootKid);
  return { pinned: rootPinned && mismatched.length === 0, rootKid, unpinned, mismatched };
}

/** Accepts the `GET /v1/keys` reply (`{ keys: [...] }`) or a bare array of key records. */
export function parseTrustedKeys(raw: unknown): KeyRecord[] {
  const list = Array.isArray(raw) ? raw : (raw as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new Error('expected the GET /v1/keys reply or an array of keys');
  const rec = KeyBody.extend({ notAfter: Iso.nullable().default(null), revokedAt: Iso.nullable().default(null) });
  return list.map((k, i) => {
    const p = rec.safeParse(k);
    if (!p.success) throw new Error(`key ${i}: ${p.error.issues[0]?.path.join('.')} ${p.error.issues[0]?.message}`);
    return p.data;
  });
}
