/** The audit payloads the token service writes: who may act as what, and until when; never a secret or its hash. */
import * as z from 'zod';
import { ROLES, ScopePrefix, TeamName } from '../../kernel/identity.js';
import { Iso, Text, type EventCatalogue } from '../../platform/audit/catalogue.js';

// tokenId and expiresAt since 0008_token_lifecycle: events written before carry neither
/** the model-name prefixes and teams a role applies to; absent: every model (global) */
const ScopePayload = z.object({ prefixes: z.array(ScopePrefix), teams: z.array(TeamName) });
// tokenId and expiresAt since 0008_token_lifecycle, scope since 0009_model_scopes: earlier events carry neither
export const TokenCreatedPayload = z.object({
  principal: Text,
  role: z.enum(ROLES),
  tokenId: Text.optional(),
  expiresAt: Iso.optional(),
  scope: ScopePayload.optional(),
});
// the role as stored: a token with a role this release does not know can still be revoked
export const TokenRevokedPayload = z.object({ tokenId: Text, principal: Text, role: Text, revokedAt: Iso });
export const TokenRotatedPayload = z.object({
  tokenId: Text.describe('the token rotated out (revoked by the rotation)'),
  newTokenId: Text,
  principal: Text,
  role: z.enum(ROLES),
  expiresAt: Iso.describe('when the new token expires'),
});

const NEVER_RESTORED = {
  notRestored: 'only a hash of each token was stored: a rebuild warns, and new tokens are created',
} as const;

export const TOKEN_EVENTS: EventCatalogue = {
  'token.created': { schema: TokenCreatedPayload, restore: NEVER_RESTORED },
  'token.revoked': { schema: TokenRevokedPayload, restore: { notRestored: 'tokens are never restored, so neither is their revocation' } },
  'token.rotated': { schema: TokenRotatedPayload, restore: NEVER_RESTORED },
};
