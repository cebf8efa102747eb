/** The `register` API function (lib/platform/http/route-functions.ts): register, registerInline. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as register } from '../register.js';
import { handler as registerInline } from '../register-inline.js';

export const handler = apiFunction('register', { register, registerInline });
