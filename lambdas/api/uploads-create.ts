/** The `uploadsCreate` API function (lib/platform/http/route-functions.ts): uploadsCreate, uploadParts. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as uploadsCreate } from '../uploads-create.js';
import { handler as uploadParts } from '../upload-parts.js';

export const handler = apiFunction('uploadsCreate', { uploadsCreate, uploadParts });
