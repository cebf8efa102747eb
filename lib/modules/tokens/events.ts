/** The audit payload the token service writes: who may now act as what, never the token. */
import * as z from 'zod';
import { ROLES } from '../../kernel/identity.js';
import { Text, type EventCatalogue } from '../../platform/audit/catalogue.js';

export const TokenCreatedPayload = z.object({ principal: Text, role: z.enum(ROLES) });

export const TOKEN_EVENTS: EventCatalogue = {
  'token.created': {
    schema: TokenCreatedPayload,
    restore: { notRestored: 'only a hash of each token was stored: a rebuild warns, and new tokens are created' },
  },
};
