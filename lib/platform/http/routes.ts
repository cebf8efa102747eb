import { ROLES, type Role } from '../../kernel/identity.js';

const ANY_ROLE: readonly Role[] = ROLES;

export interface RouteSpec {
  /** stable id, also the Lambda's logical name */
  id: string;
  method: 'GET' | 'POST' | 'PUT';
  /** API Gateway style path: `{name}` parameters */
  path: string;
  /** the handler file, relative to the repo root (exports `handler` and `build`) */
  entry: string;
  /** roles allowed to call; `public` routes need no caller at all */
  roles: readonly Role[] | 'public';
  summary: string;
  /** served by the local server only (local bearer tokens, local upload URLs) */
  localOnly?: boolean;
  /**
   * Earlier paths of this route, still served by the same handler (locally and by API
   * Gateway) so existing clients keep working; the OpenAPI document marks them `deprecated`
   * and replies through them carry `Deprecation: true` and a `Link` to the current path.
   */
  deprecatedPaths?: readonly string[];
}

/** The paths a route answers on: its own, then its deprecated aliases. */
export const routePaths = (route: RouteSpec): { path: string; deprecated: boolean }[] => [
  { path: route.path, deprecated: false },
  ...(route.deprecatedPaths ?? []).map((path) => ({ path, deprecated: true })),
];

/**
 * Every API route: the local server routes by this table, the CDK stack builds API Gateway
 * resources and one Lambda per entry from it, and /openapi.json documents it.
 */
export const ROUTES = {
  health: {
    id: 'health',
    method: 'GET',
    path: '/healthz',
    entry: 'lambdas/health.ts',
    roles: 'public',
    summary: 'Liveness and dependency health',
  },
  openapi: {
    id: 'openapi',
    method: 'GET',
    path: '/openapi.json',
    entry: 'lambdas/openapi.ts',
    roles: 'public',
    summary: 'OpenAPI 3.1 document generated from the request and response schemas',
  },
  keysList: {
    id: 'keysList',
    method: 'GET',
    path: '/v1/keys',
    entry: 'lambdas/keys-list.ts',
    roles: ANY_ROLE,
    summary: 'The key ring: public keys with validity windows',
  },
  keysRotate: {
    id: 'keysRotate',
    method: 'POST',
    path: '/v1/keys/rotate',
    entry: 'lambdas/keys-rotate.ts',
    roles: ['operator', 'admin'],
    summary: 'Rotate (or revoke) a signing key',
  },
  uploadsCreate: {
    id: 'uploadsCreate',
    method: 'POST',
    path: '/v1/registry/uploads',
    entry: 'lambdas/uploads-create.ts',
    roles: ['publisher', 'admin'],
    summary: 'Get an upload target (presigned PUT) for an artifact',
  },
  register: {
    id: 'register',
    method: 'POST',
    path: '/v1/registry/register',
    entry: 'lambdas/register.ts',
    roles: ['publisher', 'admin'],
    summary: 'Register an uploaded artifact with its training manifest; signs the manifest',
  },
  modelsList: {
    id: 'modelsList',
    method: 'GET',
    path: '/v1/registry/models',
    entry: 'lambdas/models-list.ts',
    roles: ANY_ROLE,
    summary: 'List models',
  },
  versionsList: {
    id: 'versionsList',
    method: 'GET',
    path: '/v1/registry/models/{model}/versions',
    entry: 'lambdas/versions-list.ts',
    roles: ANY_ROLE,
    summary: 'List versions of a model (paginated)',
  },
  versionGet: {
    id: 'versionGet',
    method: 'GET',
    path: '/v1/registry/models/{model}/versions/{version}',
    entry: 'lambdas/version-get.ts',
    roles: ANY_ROLE,
    summary: 'Get one version of a model',
  },
  artifactGet: {
    id: 'artifactGet',
    method: 'GET',
    path: '/v1/artifacts/{artifactId}',
    deprecatedPaths: ['/v1/registry/{artifactId}'],
    entry: 'lambdas/artifact-get.ts',
    roles: ANY_ROLE,
    summary: 'Get an artifact record with its manifest and signature',
  },
  artifactValidate: {
    id: 'artifactValidate',
    method: 'GET',
    path: '/v1/artifacts/{artifactId}/validate',
    deprecatedPaths: ['/v1/registry/{artifactId}/validate'],
    entry: 'lambdas/artifact-validate.ts',
    roles: ANY_ROLE,
    summary: 'Verify a registered artifact: stored bytes, signature, signer, provenance',
  },
  verifyManifest: {
    id: 'verifyManifest',
    method: 'POST',
    path: '/v1/registry/verify-manifest',
    entry: 'lambdas/verify-manifest.ts',
    roles: ANY_ROLE,
    summary: 'Verify a manifest (and optional signature) against the registry',
  },
  datasetsCreate: {
    id: 'datasetsCreate',
    method: 'POST',
    path: '/v1/datasets',
    entry: 'lambdas/datasets-create.ts',
    roles: ['publisher', 'admin'],
    summary: 'Register a dataset version (id, version, checksum, uri, schema); immutable',
  },
  datasetGet: {
    id: 'datasetGet',
    method: 'GET',
    path: '/v1/datasets/{id}/versions/{version}',
    entry: 'lambdas/dataset-get.ts',
    roles: ANY_ROLE,
    summary: 'Get a registered dataset version',
  },
  lineageGet: {
    id: 'lineageGet',
    method: 'GET',
    path: '/v1/lineage/{artifactId}',
    entry: 'lambdas/lineage-get.ts',
    roles: ANY_ROLE,
    summary: 'Lineage of an artifact: manifest, datasets, code, container',
  },
  lineageBundle: {
    id: 'lineageBundle',
    method: 'GET',
    path: '/v1/lineage/{artifactId}/bundle',
    entry: 'lambdas/lineage-bundle.ts',
    roles: ANY_ROLE,
    summary: 'A signed, self-contained lineage bundle for offline verification',
  },
  keysEnroll: {
    id: 'keysEnroll',
    method: 'POST',
    path: '/v1/keys',
    entry: 'lambdas/keys-enroll.ts',
    roles: ['admin'],
    summary: "Enrol an approver's public key (generated on the approver's machine)",
  },
  keysRevoke: {
    id: 'keysRevoke',
    method: 'POST',
    path: '/v1/keys/{kid}/revoke',
    entry: 'lambdas/keys-revoke.ts',
    roles: ['admin'],
    summary: 'Revoke a key: every signature or approval it made stops counting',
  },
  promote: {
    id: 'promote',
    method: 'POST',
    path: '/v1/artifacts/{artifactId}/promote',
    deprecatedPaths: ['/v1/registry/{artifactId}/promote'],
    entry: 'lambdas/promote.ts',
    roles: ['promoter', 'admin'],
    summary: 'Promote an artifact to an environment: verified, policy-gated, multisig when required, rolled out as a state machine',
  },
  promoteVersion: {
    id: 'promoteVersion',
    method: 'POST',
    path: '/v1/registry/models/{model}/versions/{version}/promote',
    entry: 'lambdas/promote-version.ts',
    roles: ['promoter', 'admin'],
    summary: 'Promote a model version (same as promoting its artifact)',
  },
  rollback: {
    id: 'rollback',
    method: 'POST',
    path: '/v1/registry/models/{model}/rollback',
    entry: 'lambdas/rollback.ts',
    roles: ['promoter', 'operator', 'admin'],
    summary: 'Roll an environment back to a named earlier artifact: policy-checked, multisig when critical',
  },
  promotionsByArtifact: {
    id: 'promotionsByArtifact',
    method: 'GET',
    path: '/v1/artifacts/{artifactId}/promotions',
    deprecatedPaths: ['/v1/registry/promotions/{artifactId}'],
    entry: 'lambdas/promotions-history.ts',
    roles: ANY_ROLE,
    summary: 'Promotion history of an artifact',
  },
  promotionGet: {
    id: 'promotionGet',
    method: 'GET',
    path: '/v1/promotions/{promotionId}',
    entry: 'lambdas/promotion-get.ts',
    roles: ANY_ROLE,
    summary: "A promotion: record, approvals and the rollout's execution trace",
  },
  promotionCancel: {
    id: 'promotionCancel',
    method: 'POST',
    path: '/v1/promotions/{promotionId}/cancel',
    entry: 'lambdas/promotion-cancel.ts',
    roles: ['promoter', 'admin'],
    summary: 'Cancel a pending multisig promotion (its requester or an admin); audited with the reason',
  },
  promotionApprove: {
    id: 'promotionApprove',
    method: 'POST',
    path: '/v1/promotions/{promotionId}/approvals',
    entry: 'lambdas/promotion-approve.ts',
    roles: ['approver', 'admin'],
    summary: 'Add a signed approval (Ed25519 over the canonical approval statement)',
  },
  auditList: {
    id: 'auditList',
    method: 'GET',
    path: '/v1/audit',
    entry: 'lambdas/audit-list.ts',
    roles: ['auditor', 'admin'],
    summary: 'Audit events in chain order (filter by subject and type; paginated)',
  },
  auditVerify: {
    id: 'auditVerify',
    method: 'GET',
    path: '/v1/audit/verify',
    entry: 'lambdas/audit-verify.ts',
    roles: ['auditor', 'operator', 'admin'],
    summary: 'Verify the audit chain (database or archive) and its parity with the archive',
  },
  auditArchive: {
    id: 'auditArchive',
    method: 'POST',
    path: '/v1/audit/archive',
    entry: 'lambdas/audit-archive.ts',
    roles: ['operator', 'admin'],
    summary: 'Archive events not yet archived (also runs on a schedule)',
  },
  tokensCreate: {
    id: 'tokensCreate',
    method: 'POST',
    path: '/v1/tokens',
    entry: 'lambdas/tokens-create.ts',
    roles: ['admin'],
    summary: 'Create a bearer token for a principal and role (local mode)',
    localOnly: true,
  },
} as const satisfies Record<string, RouteSpec>;

export type RouteId = keyof typeof ROUTES;
