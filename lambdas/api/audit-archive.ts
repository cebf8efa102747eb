/** The `auditArchive` API function (lib/platform/http/route-functions.ts): auditArchive. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as auditArchive } from '../audit-archive.js';

export const handler = apiFunction('auditArchive', { auditArchive });
