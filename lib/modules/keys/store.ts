/** The keys module's table: `signing_keys` (the public key ring). The only code that builds SQL on it. */
import type { Insertable, Selectable } from 'kysely';
import type { KeyPurpose, KeyRecord, SignatureAlg } from '../../kernel/signatures.js';
import type { Executor } from '../../platform/ports/database.js';
import { toDate, toDateOrNull, toIso, toIsoOrNull, type SigningKeysTable } from '../../platform/sql/schema.js';

export function toKeyRecord(r: Selectable<SigningKeysTable>): KeyRecord {
  return {
    kid: r.kid,
    purpose: r.purpose as KeyPurpose,
    alg: r.alg as SignatureAlg,
    publicKey: r.public_key,
    backend: r.backend as KeyRecord['backend'],
    notBefore: toIso(r.not_before),
    notAfter: toIsoOrNull(r.not_after),
    revokedAt: toIsoOrNull(r.revoked_at),
    ...(r.owner ? { owner: r.owner } : {}),
  };
}

/** The row of a key record; `keyRef` names the private half in the key provider ('' for keys enrolled from elsewhere). */
export function signingKeyRow(k: KeyRecord, keyRef: string): Insertable<SigningKeysTable> {
  return {
    kid: k.kid,
    purpose: k.purpose,
    alg: k.alg,
    public_key: k.publicKey,
    backend: k.backend,
    key_ref: keyRef,
    not_before: toDate(k.notBefore),
    not_after: toDateOrNull(k.notAfter),
    revoked_at: toDateOrNull(k.revokedAt),
    owner: k.owner ?? null,
  };
}

export async function insertKey(x: Executor, row: Insertable<SigningKeysTable>): Promise<void> {
  await x.insertInto('signing_keys').values(row).execute();
}

/** Several rows in one statement (a restore); at least one. */
export async function insertKeys(x: Executor, rows: Insertable<SigningKeysTable>[]): Promise<void> {
  await x.insertInto('signing_keys').values(rows).execute();
}

/** Every row, by kid (parity). */
export async function allKeyRows(x: Executor): Promise<Selectable<SigningKeysTable>[]> {
  return x.selectFrom('signing_keys').selectAll().orderBy('kid').execute();
}

export async function listKeys(x: Executor): Promise<KeyRecord[]> {
  const rows = await x.selectFrom('signing_keys').selectAll().orderBy('purpose').orderBy('not_before').execute();
  return rows.map(toKeyRecord);
}

export async function findKey(x: Executor, kid: string): Promise<KeyRecord | undefined> {
  const row = await x.selectFrom('signing_keys').selectAll().where('kid', '=', kid).executeTakeFirst();
  return row ? toKeyRecord(row) : undefined;
}

/** A key that signs now, with the reference to its private half. */
export interface ActiveKey {
  record: KeyRecord;
  keyRef: string;
}

/** The whole ring, newest first, each key with the reference to its private half ('' for enrolled keys). */
export async function findRingKeys(x: Executor): Promise<ActiveKey[]> {
  const rows = await x.selectFrom('signing_keys').selectAll().orderBy('not_before', 'desc').execute();
  return rows.map((row) => ({ record: toKeyRecord(row), keyRef: row.key_ref }));
}

/** The newest key of `purpose` neither rotated out nor revoked, with the reference to its private half. */
export async function findActiveKey(x: Executor, purpose: KeyPurpose): Promise<ActiveKey | undefined> {
  const row = await x
    .selectFrom('signing_keys')
    .selectAll()
    .where('purpose', '=', purpose)
    .where('not_after', 'is', null)
    .where('revoked_at', 'is', null)
    .orderBy('not_before', 'desc')
    .executeTakeFirst();
  return row ? { record: toKeyRecord(row), keyRef: row.key_ref } : undefined;
}

/** Closes a key's validity window: it signs nothing after `at`; what it signed before keeps verifying. */
export async function retireKey(x: Executor, kid: string, at: Date): Promise<void> {
  await x.updateTable('signing_keys').set({ not_after: at }).where('kid', '=', kid).execute();
}

export async function revokeKey(x: Executor, kid: string, at: { revokedAt: Date; notAfter: Date }): Promise<void> {
  await x.updateTable('signing_keys').set({ revoked_at: at.revokedAt, not_after: at.notAfter }).where('kid', '=', kid).execute();
}
