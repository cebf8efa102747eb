import * as z from 'zod';
import { ROLES, ScopeGrantSchema } from '../../../kernel/identity.js';
import { KEY_PURPOSES, SIGNATURE_ALGS } from '../../../kernel/signatures.js';

/** The key ring's routes, and local bearer tokens. */

export const KeyRecordSchema = z.object({
  kid: z.string(),
  purpose: z.enum(KEY_PURPOSES),
  alg: z.enum(SIGNATURE_ALGS),
  publicKey: z.string().describe('base64 DER SubjectPublicKeyInfo'),
  backend: z.enum(['file', 'kms', 'external']),
  owner: z.string().nullable().optional(),
  notBefore: z.string(),
  notAfter: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export type KeyReply = z.output<typeof KeyRecordSchema>;

export const KeysReply = z.object({ keys: z.array(KeyRecordSchema) });
export type KeysReply = z.output<typeof KeysReply>;
export const KeysRotateBody = z
  .object({
    // approver keys are enrolled from their owners' machines, never generated here
    purpose: z.enum(['manifest', 'audit']),
    kmsKeyId: z.string().min(1).max(2048).optional(),
    revoke: z.boolean().default(false).describe('also revoke the previous key: its signatures stop verifying'),
  })
  .strict();
export const KeysRotateReply = z.object({ previous: KeyRecordSchema.nullable(), current: KeyRecordSchema });
export type KeysRotateReply = z.output<typeof KeysRotateReply>;

export const KeyEnrollBody = z
  .object({
    kid: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 . _ -'),
    purpose: z.literal('approver'),
    publicKey: z.base64().max(200).describe('base64 DER SubjectPublicKeyInfo of an Ed25519 key'),
    owner: z.string().regex(/^[A-Za-z0-9@._:-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 @ . _ : -'),
    notAfter: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export const KidParams = z.object({ kid: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be a key id') }).strict();

export const TokenCreateBody = z
  .object({
    principal: z.string().regex(/^[A-Za-z0-9@._:-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 @ . _ : -'),
    role: z.enum(ROLES),
    /** the models the role applies to: `{ prefixes?, teams? }`; omitted, every model (global) */
    scope: ScopeGrantSchema.optional(),
  })
  .strict();
export const ScopeReply = z.union([z.literal('global'), z.object({ prefixes: z.array(z.string()), teams: z.array(z.string()) })]);
export const TokenCreateReply = z.object({ token: z.string(), principal: z.string(), role: z.enum(ROLES), scope: ScopeReply });
export type TokenCreateReply = z.output<typeof TokenCreateReply>;
