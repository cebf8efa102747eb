/** The `eventsTail` API function (lib/platform/http/route-functions.ts): eventsTail — the long poll (up to 25 s a request), apart so it holds no other route's concurrency. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as eventsTail } from '../events-tail.js';

export const handler = apiFunction('eventsTail', { eventsTail });
