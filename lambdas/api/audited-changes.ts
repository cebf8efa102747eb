/** The `auditedChanges` API function (lib/platform/http/route-functions.ts): keysEnroll, keysRevoke, modelTeamSet, datasetsCreate, promotionCancel. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as keysEnroll } from '../keys-enroll.js';
import { handler as keysRevoke } from '../keys-revoke.js';
import { handler as modelTeamSet } from '../model-team-set.js';
import { handler as datasetsCreate } from '../datasets-create.js';
import { handler as promotionCancel } from '../promotion-cancel.js';

export const handler = apiFunction('auditedChanges', { keysEnroll, keysRevoke, modelTeamSet, datasetsCreate, promotionCancel });
