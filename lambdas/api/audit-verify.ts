/** The `auditVerify` API function (lib/platform/http/route-functions.ts): auditVerify. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as auditVerify } from '../audit-verify.js';

export const handler = apiFunction('auditVerify', { auditVerify });
