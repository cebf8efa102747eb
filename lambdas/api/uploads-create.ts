/** The `uploadsCreate` API function (lib/platform/http/route-functions.ts): uploadsCreate. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as uploadsCreate } from '../uploads-create.js';

export const handler = apiFunction('uploadsCreate', { uploadsCreate });
