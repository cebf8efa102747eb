/**
 * Restoring the keys module from the chain: the `signing_keys` rows of the key ring the key
 * events describe (replayed by ring.ts while the archive is verified), and the approver key
 * windows the promotion replay counts approvals by.
 */
import type { Insertable } from 'kysely';
import * as z from 'zod';
import type { AuditEvent } from '../../kernel/audit-chain.js';
import type { KeyRecord } from '../../kernel/signatures.js';
import type { Executor } from '../../platform/ports/database.js';
import type { SigningKeysTable } from '../../platform/sql/schema.js';
import { handlerFor, inChunks } from '../restore.js';
import { KeyEnrolledPayload, KeyRevokedPayload } from './events.js';
import { RING_EVENT_TYPES } from './ring.js';
import { insertKeys, signingKeyRow } from './store.js';

/** The event types the keys restore reads: the key ring is replayed from them. */
export const RESTORES: readonly string[] = RING_EVENT_TYPES;

/** key_ref of a KMS key whose ARN nobody supplied: not a key KMS knows, so signing with it fails loudly. */
export const UNKNOWN_KMS_KEY_REF = 'arn:aegis:unknown-kms-key-ref';

export interface KeyRows {
  keys: Insertable<SigningKeysTable>[];
}

/**
 * What KeyProvider.create returned for the key: the file name, the ARN (not in the log: the
 * operator supplies it), nothing for an enrolled key whose private half never reached the server.
 */
export function keyRef(k: KeyRecord, kmsKeyRefs?: Readonly<Record<string, string>>): string {
  return k.backend === 'file' ? `${k.kid}.pem` : k.backend === 'external' ? '' : (kmsKeyRefs?.[k.kid] ?? UNKNOWN_KMS_KEY_REF);
}

/** The `signing_keys` rows of the replayed ring, as KeyService writes them. */
export function keyRows(ring: ReadonlyMap<string, KeyRecord>, kmsKeyRefs?: Readonly<Record<string, string>>): KeyRows {
  return { keys: [...ring.values()].map((k) => signingKeyRow(k, keyRef(k, kmsKeyRefs))) };
}

/** Writes the rows in the caller's transaction. */
export async function writeKeys(x: Executor, rows: KeyRows): Promise<void> {
  await inChunks(rows.keys, (part) => insertKeys(x, part));
}

// The approver key windows: only the fields a window needs, picked from the writers' schemas.
const EnrolledWindow = z.object({ key: KeyEnrolledPayload.shape.key.pick({ kid: true, purpose: true, notAfter: true }) });
const RevokedWindow = KeyRevokedPayload.pick({ kid: true, revokedAt: true });
type Window = { notAfter: number | null; revokedAt: number | null };

const WINDOW_EVENTS: Readonly<Record<string, (windows: Map<string, Window>, e: AuditEvent) => void>> = {
  'key.enrolled': (windows, e) => {
    const k = EnrolledWindow.safeParse(e.payload);
    if (k.success && k.data.key.purpose === 'approver')
      windows.set(k.data.key.kid, { notAfter: k.data.key.notAfter ? Date.parse(k.data.key.notAfter) : null, revokedAt: null });
  },
  'key.revoked': (windows, e) => {
    const k = RevokedWindow.safeParse(e.payload);
    const w = k.success ? windows.get(k.data.kid) : undefined;
    if (w && k.success) w.revokedAt = Date.parse(k.data.revokedAt);
  },
};

/**
 * What the chain has said so far of each approver key's window (enrolled with a notAfter, or
 * revoked): replayed event by event beside the promotion events, so an approval is judged by
 * the key as it stood when the approval was counted.
 */
export class ApproverWindows {
  readonly #windows = new Map<string, Window>();

  /** Whether `type` can change a window. */
  handles(type: string): boolean {
    return handlerFor(WINDOW_EVENTS, type) !== undefined;
  }

  apply(e: AuditEvent): void {
    handlerFor(WINDOW_EVENTS, e.type)?.(this.#windows, e);
  }

  /** False when the key was revoked by `at` or its window closed before it; a key the chain never enrolled is not judged here. */
  open(kid: string, at: number): boolean {
    const k = this.#windows.get(kid);
    return !(k && ((k.revokedAt !== null && k.revokedAt <= at) || (k.notAfter !== null && at > k.notAfter)));
  }
}
