/** The `promotionApprove` API function (lib/platform/http/route-functions.ts): promotionApprove, promotionAbort. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as promotionApprove } from '../promotion-approve.js';
import { handler as promotionAbort } from '../promotion-abort.js';

export const handler = apiFunction('promotionApprove', { promotionApprove, promotionAbort });
