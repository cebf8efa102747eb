import * as z from 'zod';
import { ROLES, ScopeGrantSchema } from '../../../kernel/identity.js';
import { DURATION_PATTERN } from '../../../kernel/duration.js';
import { ENROLLED_PURPOSES, KEY_PURPOSES, SIGNATURE_ALGS } from '../../../kernel/signatures.js';

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
    purpose: z.enum(ENROLLED_PURPOSES).describe('approver, or a sign-off role (signoff:ml_lead, signoff:security_engineer)'),
    publicKey: z.base64().max(200).describe('base64 DER SubjectPublicKeyInfo of an Ed25519 key'),
    owner: z.string().regex(/^[A-Za-z0-9@._:-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 @ . _ : -'),
    notAfter: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export const KidParams = z.object({ kid: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be a key id') }).strict();

const Principal = z.string().regex(/^[A-Za-z0-9@._:-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 @ . _ : -');
const TokenId = z.string().regex(/^tok_[0-9a-f]{16}$/, 'must be a token id: tok_ and 16 hex digits');
const ExpiresIn = z
  .string()
  .regex(DURATION_PATTERN, 'must be a duration like 90m, 12h or 30d')
  .describe('how long the token lives: 90m, 12h, 30d (default 90 days; at most AEGIS_TOKEN_MAX_TTL, 365d unless configured)');

export const TokenCreateBody = z
  .object({
    principal: Principal,
    role: z.enum(ROLES),
    expiresIn: ExpiresIn.optional(),
    /** the models the role applies to: `{ prefixes?, teams? }`; omitted, every model (global) */
    scope: ScopeGrantSchema.optional(),
  })
  .strict();
export const ScopeReply = z.union([z.literal('global'), z.object({ prefixes: z.array(z.string()), teams: z.array(z.string()) })]);
export const TokenCreateReply = z.object({
  token: z.string().describe('the secret: shown once, never stored'),
  tokenId: z.string().describe('public id: lists, revokes and rotates the token'),
  principal: z.string(),
  role: z.enum(ROLES),
  scope: ScopeReply,
  createdAt: z.string(),
  expiresAt: z.string(),
});
export type TokenCreateReply = z.output<typeof TokenCreateReply>;

export const TokenRecordSchema = z.object({
  tokenId: z.string(),
  principal: z.string(),
  role: z.string().describe('a role this release does not know (a row written by hand) grants nothing'),
  scope: ScopeReply,
  state: z.enum(['active', 'expired', 'revoked']),
  createdAt: z.string(),
  createdBy: z.string().nullable().describe('null for tokens created before creators were recorded'),
  expiresAt: z.string(),
  lastUsedAt: z.string().nullable().describe('written at most once a minute per token'),
  revokedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
});
export type TokenRecordReply = z.output<typeof TokenRecordSchema>;

export const TokensListQuery = z
  .object({ limit: z.coerce.number().int().min(1).max(500).default(50), cursor: TokenId.optional() })
  .strict();
export const TokensReply = z.object({ items: z.array(TokenRecordSchema), nextCursor: z.string().nullable() });
export type TokensReply = z.output<typeof TokensReply>;

export const TokenParams = z.object({ tokenId: TokenId }).strict();
export const TokenRotateBody = z.object({ expiresIn: ExpiresIn.optional() }).strict();
export const TokenRotateReply = TokenCreateReply.extend({ rotatedFrom: z.string().describe('the token rotated out, now revoked') });
export type TokenRotateReply = z.output<typeof TokenRotateReply>;
