/** The `lineageBundle` API function (lib/platform/http/route-functions.ts): lineageBundle. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as lineageBundle } from '../lineage-bundle.js';

export const handler = apiFunction('lineageBundle', { lineageBundle });
