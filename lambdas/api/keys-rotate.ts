/** The `keysRotate` API function (lib/platform/http/route-functions.ts): keysRotate. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as keysRotate } from '../keys-rotate.js';

export const handler = apiFunction('keysRotate', { keysRotate });
