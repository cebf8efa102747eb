/** The keys module's table as parity compares it. */
import type { Executor } from '../../platform/ports/database.js';
import { toIso, toIsoOrNull } from '../../platform/sql/schema.js';
import { allKeyRows } from './store.js';

export interface KeySnapshot {
  id: string;
  purpose: string;
  alg: string;
  publicKey: string;
  backend: string;
  owner: string | null;
  notBefore: string;
  notAfter: string | null;
  revokedAt: string | null;
}

/** Every `signing_keys` row; key_ref is left out (a rebuild restores file names, and ARNs only when given). */
export async function keysSnapshot(x: Executor): Promise<KeySnapshot[]> {
  return (await allKeyRows(x)).map((r) => ({
    id: r.kid,
    purpose: r.purpose,
    alg: r.alg,
    publicKey: r.public_key,
    backend: r.backend,
    owner: r.owner ?? null,
    notBefore: toIso(r.not_before),
    notAfter: toIsoOrNull(r.not_after),
    revokedAt: toIsoOrNull(r.revoked_at),
  }));
}
