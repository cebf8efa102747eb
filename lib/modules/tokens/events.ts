/** The audit payload the token service writes: who may now act as what, never the token. */
import * as z from 'zod';
import { ROLES, ScopePrefix, TeamName } from '../../kernel/identity.js';
import { Text, type EventCatalogue } from '../../platform/audit/catalogue.js';

export const TokenCreatedPayload = z.object({
  principal: Text,
  role: z.enum(ROLES),
  /** the model-name prefixes and teams the role applies to; absent: every model (global) */
  scope: z.object({ prefixes: z.array(ScopePrefix), teams: z.array(TeamName) }).optional(),
});

export const TOKEN_EVENTS: EventCatalogue = {
  'token.created': {
    schema: TokenCreatedPayload,
    restore: { notRestored: 'only a hash of each token was stored: a rebuild warns, and new tokens are created' },
  },
};
