/** The `driftRuns` API function (lib/platform/http/route-functions.ts): driftRunRequest — it alone may start the drift state machine. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as driftRunRequest } from '../drift-run-request.js';

export const handler = apiFunction('driftRuns', { driftRunRequest });
