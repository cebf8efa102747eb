/** The `register` API function (lib/platform/http/route-functions.ts): register. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as register } from '../register.js';

export const handler = apiFunction('register', { register });
