/** The `webhooks` API function (lib/platform/http/route-functions.ts): webhooksCreate, webhookDelete, webhookSecret — audited changes (the create checks the URL's addresses). */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as webhooksCreate } from '../webhooks-create.js';
import { handler as webhookDelete } from '../webhook-delete.js';
import { handler as webhookSecret } from '../webhook-secret.js';

export const handler = apiFunction('webhooks', { webhooksCreate, webhookDelete, webhookSecret });
