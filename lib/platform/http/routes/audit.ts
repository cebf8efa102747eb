import { AuditArchiveReply, AuditListQuery, AuditListReply, AuditVerifyQuery, AuditVerifyReply } from '../schemas.js';
import type { RouteSpec } from './spec.js';

export const AUDIT_ROUTES = {
  auditList: {
    id: 'auditList',
    method: 'GET',
    path: '/v1/audit',
    entry: 'lambdas/audit-list.ts',
    roles: ['auditor', 'security', 'admin'],
    scope: 'global-only',
    summary: 'Audit events in chain order (filter by subject, type and time: `since` inclusive, `until` exclusive; paginated)',
    request: { query: AuditListQuery },
    reply: { schema: AuditListReply, status: { 200: 'one page of events' } },
  },
  auditVerify: {
    id: 'auditVerify',
    method: 'GET',
    path: '/v1/audit/verify',
    entry: 'lambdas/audit-verify.ts',
    roles: ['auditor', 'security', 'operator', 'admin'],
    scope: 'global-only',
    summary: 'Verify the audit chain (database or archive) and its parity with the archive',
    request: { query: AuditVerifyQuery },
    reply: { schema: AuditVerifyReply, status: { 200: 'the verification report (ok or not)' } },
  },
  auditArchive: {
    id: 'auditArchive',
    method: 'POST',
    path: '/v1/audit/archive',
    entry: 'lambdas/audit-archive.ts',
    roles: ['operator', 'admin'],
    scope: 'global-only',
    summary: 'Archive events not yet archived (also runs on a schedule)',
    reply: { schema: AuditArchiveReply, status: { 200: 'what was archived' } },
  },
} as const satisfies Record<string, RouteSpec>;
