/** The `promotions` API function (lib/platform/http/route-functions.ts): promote, promoteVersion, rollback, quarantine, quarantineApprove. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as promote } from '../promote.js';
import { handler as promoteVersion } from '../promote-version.js';
import { handler as rollback } from '../rollback.js';
import { handler as quarantine } from '../quarantine.js';
import { handler as quarantineApprove } from '../quarantine-approve.js';

export const handler = apiFunction('promotions', { promote, promoteVersion, rollback, quarantine, quarantineApprove });
