/** The `promotionApprove` API function (lib/platform/http/route-functions.ts): promotionApprove. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as promotionApprove } from '../promotion-approve.js';

export const handler = apiFunction('promotionApprove', { promotionApprove });
