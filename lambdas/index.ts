/** Every route's handler builder, keyed by route id: the local server serves these. */
import type { HandlerBuilder } from '../lib/platform/http/handler.js';
import type { RouteId } from '../lib/platform/http/routes.js';
import * as artifactDownload from './artifact-download.js';
import * as artifactGet from './artifact-get.js';
import * as artifactValidate from './artifact-validate.js';
import * as auditArchive from './audit-archive.js';
import * as auditList from './audit-list.js';
import * as auditVerify from './audit-verify.js';
import * as datasetGet from './dataset-get.js';
import * as datasetsCreate from './datasets-create.js';
import * as driftReportGet from './drift-report-get.js';
import * as driftReportsList from './drift-reports-list.js';
import * as driftRunGet from './drift-run-get.js';
import * as driftRunRequest from './drift-run-request.js';
import * as driftSuggestionAccept from './drift-suggestion-accept.js';
import * as driftSuggestionDismiss from './drift-suggestion-dismiss.js';
import * as driftSuggestionGet from './drift-suggestion-get.js';
import * as driftSuggestionsList from './drift-suggestions-list.js';
import * as envDownload from './env-download.js';
import * as health from './health.js';
import * as keysList from './keys-list.js';
import * as keysEnroll from './keys-enroll.js';
import * as keysRevoke from './keys-revoke.js';
import * as keysRotate from './keys-rotate.js';
import * as lineageBundle from './lineage-bundle.js';
import * as lineageGet from './lineage-get.js';
import * as modelsList from './models-list.js';
import * as modelTeamSet from './model-team-set.js';
import * as openapi from './openapi.js';
import * as promote from './promote.js';
import * as promoteVersion from './promote-version.js';
import * as promotionAbort from './promotion-abort.js';
import * as promotionApprove from './promotion-approve.js';
import * as promotionCancel from './promotion-cancel.js';
import * as promotionGet from './promotion-get.js';
import * as promotionsByArtifact from './promotions-history.js';
import * as readyz from './readyz.js';
import * as servingFeedback from './serving-feedback.js';
import * as servingPredict from './serving-predict.js';
import * as servingStatus from './serving-status.js';
import * as quarantine from './quarantine.js';
import * as quarantineApprove from './quarantine-approve.js';
import * as quarantineGet from './quarantine-get.js';
import * as quarantineRelease from './quarantine-release.js';
import * as register from './register.js';
import * as registerInline from './register-inline.js';
import * as rollback from './rollback.js';
import * as tokenRevoke from './token-revoke.js';
import * as tokenRotate from './token-rotate.js';
import * as tokensCreate from './tokens-create.js';
import * as tokensList from './tokens-list.js';
import * as uploadParts from './upload-parts.js';
import * as uploadsCreate from './uploads-create.js';
import * as verifyManifest from './verify-manifest.js';
import * as versionDownload from './version-download.js';
import * as versionGet from './version-get.js';
import * as versionValidate from './version-validate.js';
import * as versionsList from './versions-list.js';
import * as whoami from './whoami.js';
import * as registrationGet from './registration-get.js';
import * as webhooksCreate from './webhooks-create.js';
import * as webhooksList from './webhooks-list.js';
import * as webhookGet from './webhook-get.js';
import * as webhookDelete from './webhook-delete.js';
import * as webhookSecret from './webhook-secret.js';
import * as webhookTest from './webhook-test.js';
import * as webhookDeliveries from './webhook-deliveries.js';
import * as webhookReplay from './webhook-replay.js';
import * as eventsTail from './events-tail.js';

export const HANDLER_BUILDERS: Record<RouteId, HandlerBuilder> = {
  artifactDownload,
  artifactGet,
  artifactValidate,
  auditArchive,
  auditList,
  auditVerify,
  datasetGet,
  datasetsCreate,
  driftReportGet,
  driftReportsList,
  driftRunGet,
  driftRunRequest,
  driftSuggestionAccept,
  driftSuggestionDismiss,
  driftSuggestionGet,
  driftSuggestionsList,
  envDownload,
  health,
  keysList,
  keysEnroll,
  keysRevoke,
  keysRotate,
  lineageBundle,
  lineageGet,
  modelsList,
  modelTeamSet,
  openapi,
  promote,
  promoteVersion,
  promotionAbort,
  promotionApprove,
  promotionCancel,
  promotionGet,
  promotionsByArtifact,
  readyz,
  quarantine,
  quarantineApprove,
  quarantineGet,
  quarantineRelease,
  register,
  registerInline,
  rollback,
  servingFeedback,
  servingPredict,
  servingStatus,
  tokenRevoke,
  tokenRotate,
  tokensCreate,
  tokensList,
  uploadParts,
  uploadsCreate,
  verifyManifest,
  versionDownload,
  versionGet,
  versionValidate,
  versionsList,
  whoami,
  registrationGet,
  webhooksCreate,
  webhooksList,
  webhookGet,
  webhookDelete,
  webhookSecret,
  webhookTest,
  webhookDeliveries,
  webhookReplay,
  eventsTail,
};
