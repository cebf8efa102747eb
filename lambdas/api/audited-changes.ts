/** The `auditedChanges` API function (lib/platform/http/route-functions.ts): keysEnroll, keysRevoke, modelTeamSet, datasetsCreate, promotionCancel, driftSuggestionAccept, driftSuggestionDismiss. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as keysEnroll } from '../keys-enroll.js';
import { handler as keysRevoke } from '../keys-revoke.js';
import { handler as modelTeamSet } from '../model-team-set.js';
import { handler as datasetsCreate } from '../datasets-create.js';
import { handler as promotionCancel } from '../promotion-cancel.js';
import { handler as driftSuggestionAccept } from '../drift-suggestion-accept.js';
import { handler as driftSuggestionDismiss } from '../drift-suggestion-dismiss.js';

export const handler = apiFunction('auditedChanges', {
  keysEnroll,
  keysRevoke,
  modelTeamSet,
  datasetsCreate,
  promotionCancel,
  driftSuggestionAccept,
  driftSuggestionDismiss,
});
