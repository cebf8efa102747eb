/** The `webhookRecords` API function (lib/platform/http/route-functions.ts): webhooksList, webhookGet, webhookDeliveries, webhookReplay, webhookTest — the database only, and the test delivery's POST. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as webhooksList } from '../webhooks-list.js';
import { handler as webhookGet } from '../webhook-get.js';
import { handler as webhookDeliveries } from '../webhook-deliveries.js';
import { handler as webhookReplay } from '../webhook-replay.js';
import { handler as webhookTest } from '../webhook-test.js';

export const handler = apiFunction('webhookRecords', { webhooksList, webhookGet, webhookDeliveries, webhookReplay, webhookTest });
