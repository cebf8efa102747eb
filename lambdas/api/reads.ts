/** The `reads` API function (lib/platform/http/route-functions.ts): health, readyz, openapi, keysList, modelsList, versionsList, versionGet, artifactGet, verifyManifest, datasetGet, lineageGet, promotionsByArtifact, promotionGet, quarantineGet, auditList, whoami, registrationGet. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as health } from '../health.js';
import { handler as readyz } from '../readyz.js';
import { handler as openapi } from '../openapi.js';
import { handler as keysList } from '../keys-list.js';
import { handler as modelsList } from '../models-list.js';
import { handler as versionsList } from '../versions-list.js';
import { handler as versionGet } from '../version-get.js';
import { handler as artifactGet } from '../artifact-get.js';
import { handler as verifyManifest } from '../verify-manifest.js';
import { handler as datasetGet } from '../dataset-get.js';
import { handler as lineageGet } from '../lineage-get.js';
import { handler as promotionsByArtifact } from '../promotions-history.js';
import { handler as promotionGet } from '../promotion-get.js';
import { handler as quarantineGet } from '../quarantine-get.js';
import { handler as auditList } from '../audit-list.js';
import { handler as whoami } from '../whoami.js';
import { handler as registrationGet } from '../registration-get.js';

export const handler = apiFunction('reads', {
  health,
  readyz,
  openapi,
  keysList,
  modelsList,
  versionsList,
  versionGet,
  artifactGet,
  verifyManifest,
  datasetGet,
  lineageGet,
  promotionsByArtifact,
  promotionGet,
  quarantineGet,
  auditList,
  whoami,
  registrationGet,
});
