/** The audit payloads the key ring writes (KeyService), parsed at append time and by recovery. */
import * as z from 'zod';
import { KEY_PURPOSES, SIGNATURE_ALGS } from '../../kernel/signatures.js';
import { Iso, Text, type EventCatalogue } from '../../platform/audit/catalogue.js';

export const KeyBody = z.object({
  kid: Text,
  purpose: z.enum(KEY_PURPOSES),
  alg: z.enum(SIGNATURE_ALGS),
  publicKey: Text,
  backend: z.enum(['file', 'kms', 'external']),
  notBefore: Iso,
});
export const KeyCreatedPayload = z.object({ key: KeyBody });
/** An approver's public key generated elsewhere: it may carry its own end and an owner. */
export const KeyEnrolledPayload = z.object({
  key: KeyBody.extend({ notAfter: Iso.nullable().default(null), owner: Text.nullable().default(null) }),
});
export const KeyRotatedPayload = z.object({ key: KeyBody, previous: Text, previousNotAfter: Iso });
// `purpose` has always been written; older readers ignored it
export const KeyRevokedPayload = z.object({ kid: Text, purpose: z.enum(KEY_PURPOSES).optional(), revokedAt: Iso });

const RESTORED_BY_RING = {
  restoredBy: 'the keys restore: the key ring replayed from the chain (lib/modules/keys/ring.ts, restore.ts)',
} as const;

export const KEY_EVENTS: EventCatalogue = {
  'key.created': { schema: KeyCreatedPayload, restore: RESTORED_BY_RING },
  'key.enrolled': { schema: KeyEnrolledPayload, restore: RESTORED_BY_RING },
  'key.rotated': { schema: KeyRotatedPayload, restore: RESTORED_BY_RING },
  'key.revoked': { schema: KeyRevokedPayload, restore: RESTORED_BY_RING },
};
