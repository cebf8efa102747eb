/**
 * Quarantine's rules, pure: the requests (quarantine an artifact, release it), what a policy
 * decision makes of one, the signed record of an applied one, the approval statement's target
 * and the refusal a quarantined artifact meets.
 */
import { AegisError } from '../../kernel/errors.js';
import type { PolicyDecision } from '../../kernel/policy.js';
import { statementBytes } from '../../kernel/signatures.js';

export const QUARANTINE_ACTIONS = ['quarantine', 'release'] as const;
export type QuarantineAction = (typeof QUARANTINE_ACTIONS)[number];

export const QUARANTINE_STATUSES = ['pending_multisig', 'applied'] as const;
export type QuarantineStatus = (typeof QUARANTINE_STATUSES)[number];

/** What enforcing a quarantine did in one environment (or to one promotion). */
export interface QuarantineEffect {
  kind: 'promotion-cancelled' | 'canary-rolled-back' | 'stable-rolled-back' | 'drained' | 'not-rolled-back';
  env: string;
  /** the promotion cancelled or rolled back, or the rollback promotion started */
  promotionId?: string;
  /** where a stable rollback goes */
  toArtifactId?: string;
  detail: string;
}

/** A manifest-key signature over an applied request's record. */
export interface RecordSignature {
  signerId: string;
  alg: string;
  ts: string;
  signature: string;
}

export interface QuarantineRequest {
  requestId: string;
  action: QuarantineAction;
  artifactId: string;
  modelName: string;
  status: QuarantineStatus;
  reason: string;
  requestedBy: string;
  policyDecision: PolicyDecision;
  threshold: number | null;
  createdAt: Date;
  appliedAt: Date | null;
  recordSignature: RecordSignature | null;
  effects: QuarantineEffect[] | null;
}

/** The artifact's quarantine as the rest of Aegis sees it (null: not quarantined). */
export interface QuarantineState {
  requestId: string;
  artifactId: string;
  reason: string;
  quarantinedBy: string;
  quarantinedAt: string;
}

/** The request's status from SentinelNet's decision (a denial is refused and stores nothing). */
export const requestStatus = (d: PolicyDecision): QuarantineStatus => (d.decision === 'require_multisig' ? 'pending_multisig' : 'applied');

/** The record an applied request signs (and its event carries). */
export function quarantineRecord(
  q: Pick<QuarantineRequest, 'requestId' | 'action' | 'artifactId' | 'modelName' | 'reason' | 'requestedBy'>,
  appliedAt: Date,
) {
  return {
    requestId: q.requestId,
    action: q.action,
    artifactId: q.artifactId,
    modelName: q.modelName,
    reason: q.reason,
    requestedBy: q.requestedBy,
    appliedAt: appliedAt.toISOString(),
  };
}
export type QuarantineRecord = ReturnType<typeof quarantineRecord>;

/** The bytes a quarantine record's manifest-key signature covers. */
export const quarantineRecordBytes = (record: QuarantineRecord): Uint8Array =>
  statementBytes({ type: 'aegis.quarantine-record/v1', ...record });

/**
 * The `targetEnv` of the approval statement an approver signs for a quarantine request: the
 * statement names the request id (never a promotion's) and this target, so an approval of one
 * can never count for anything else.
 */
export const approvalTarget = (action: QuarantineAction): string => `quarantine:${action}`;

/** The 409 every promotion or rollback to a quarantined artifact meets. */
export function quarantinedError(q: QuarantineState, what = 'promoted or rolled back to'): AegisError {
  return new AegisError(
    'ARTIFACT_QUARANTINED',
    `artifact ${q.artifactId} is quarantined (request ${q.requestId} by ${q.quarantinedBy} at ${q.quarantinedAt}: ${q.reason}); it may not be ${what}`,
    { field: 'artifactId', details: { quarantine: { ...q } } },
  );
}
