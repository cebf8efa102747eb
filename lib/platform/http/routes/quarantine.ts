import { ApprovalBody, ArtifactIdParams, QuarantineBody, QuarantineReply, QuarantineRequestParams } from '../schemas.js';
import { ANY_ROLE, type RouteSpec } from './spec.js';

const REQUESTED = {
  schema: QuarantineReply,
  status: { 201: 'applied (a quarantine is enforced before the reply)', 202: 'pending multisig approvals' },
} as const;

export const QUARANTINE_ROUTES = {
  quarantine: {
    id: 'quarantine',
    method: 'POST',
    path: '/v1/artifacts/{artifactId}/quarantine',
    entry: 'lambdas/quarantine.ts',
    roles: ['security', 'admin'],
    scope: { by: 'artifactId' },
    summary:
      'Quarantine an artifact: every promotion to it refused, its pending promotions cancelled, its canaries rolled back, the environments it serves rolled back (or drained); multisig when the policy says so',
    request: { params: ArtifactIdParams, body: QuarantineBody },
    reply: REQUESTED,
  },
  quarantineRelease: {
    id: 'quarantineRelease',
    method: 'POST',
    path: '/v1/artifacts/{artifactId}/quarantine/release',
    entry: 'lambdas/quarantine-release.ts',
    roles: ['admin'],
    scope: { by: 'artifactId' },
    summary: 'Request the release of a quarantine: always multisig; applied when the approvals are in',
    request: { params: ArtifactIdParams, body: QuarantineBody },
    reply: REQUESTED,
  },
  quarantineApprove: {
    id: 'quarantineApprove',
    method: 'POST',
    path: '/v1/quarantine-requests/{requestId}/approvals',
    entry: 'lambdas/quarantine-approve.ts',
    roles: ['approver', 'admin'],
    scope: { by: 'requestId' },
    summary: 'Add a signed approval to a pending quarantine or release request (the promotion approval statement, naming the request)',
    request: { params: QuarantineRequestParams, body: ApprovalBody },
    reply: {
      schema: QuarantineReply,
      status: { 200: 'the quarantine state with the approval counted (applied when it completed the quorum)' },
    },
  },
  quarantineGet: {
    id: 'quarantineGet',
    method: 'GET',
    path: '/v1/artifacts/{artifactId}/quarantine',
    entry: 'lambdas/quarantine-get.ts',
    roles: ANY_ROLE,
    scope: { by: 'artifactId' },
    summary: "An artifact's quarantine state, every request about it, and what enforcing it did (rollbacks, drained environments)",
    request: { params: ArtifactIdParams },
    reply: { schema: QuarantineReply, status: { 200: "the artifact's quarantine state" } },
  },
} as const satisfies Record<string, RouteSpec>;
