/** The `quarantineRelease` API function (lib/platform/http/route-functions.ts): quarantineRelease. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as quarantineRelease } from '../quarantine-release.js';

export const handler = apiFunction('quarantineRelease', { quarantineRelease });
