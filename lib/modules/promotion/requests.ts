/**
 * A promotion or manual rollback requested: the artifact verified first (fail closed), the
 * gates' evidence gathered from the chain, SentinelNet asked, and the promotion stored —
 * denied, waiting for approvals, or rolling out — with its signed record and its audit event.
 */
import { randomUUID } from 'node:crypto';
import type * as z from 'zod';
import { AegisError } from '../../kernel/errors.js';
import type { Principal } from '../../kernel/identity.js';
import type { PolicyDecision, TargetEnv } from '../../kernel/policy.js';
import type { AuditInput } from '../../platform/audit/log.js';
import { isUniqueViolation } from '../../platform/sql/errors.js';
import type { RingView } from '../keys/service.js';
import type { ArtifactRecord } from '../registry/service.js';
import { DEFAULT_MIN_REQUESTS, machineOf } from '../rollout/domain.js';
import type { PromotionDeps, Tx } from './deps.js';
import {
  canaryFor,
  multisigThreshold,
  numericMetrics,
  requestedStatus,
  type CanaryOverrides,
  type PromotionKind,
  type RolloutRequest,
} from './domain.js';
import { expiredPending, leavePendingFor } from './expiry.js';
import { gatherGateEvidence } from './gate-evidence.js';
import { recordIdentity, signRecordWith, type RecordSignature } from './signing.js';
import { findInFlight, insertPromotion, lockInFlight, promotionRow, type StoredPromotion } from './store.js';

/** A request to move an artifact into an environment. */
export interface PromotionRequest {
  kind: PromotionKind;
  artifactId: string;
  targetEnv: TargetEnv;
  reason: string;
  principal: Principal;
  /** a promotion's canary settings over the environment's defaults (a rollback has none) */
  canary?: z.infer<typeof CanaryOverrides>;
  /** how the promotion meets traffic: the strategy and its settings (canary when absent; a rollback has none) */
  rollout?: RolloutRequest;
  /** a critical rollback: it supersedes another artifact's pending promotion (rollbacks only) */
  critical?: boolean;
  /** the rollback a quarantine starts away from the quarantined artifact (it supersedes pending promotions too) */
  quarantineRollback?: boolean;
}

/** A transaction found the key ring changed since the request verified and decided with it: it decides again. */
class RingChanged extends Error {}

/**
 * Requests the promotion; the promotion as stored (it is denied with POLICY_DENIED after it is stored).
 * Each fact is read once and passed along: the quarantine state, the artifact's record, the key
 * ring (this process's, confirmed current under the chain head's lock before the commit), the
 * gates' evidence. Nothing is read again after the commit.
 */
export async function requestPromotion(d: PromotionDeps, req: PromotionRequest): Promise<StoredPromotion> {
  // before verification: a quarantined artifact is refused as such, whatever else is wrong with it
  // (the one read of its state: the verification and the policy below are told it is none)
  const [, artifact] = await Promise.all([d.quarantine?.assertNotQuarantined(req.artifactId), d.registry.get(req.artifactId)]);
  if (!artifact) throw new AegisError('NOT_FOUND', `no artifact ${req.artifactId}`, { field: 'artifactId' });
  for (let attempt = 1; ; attempt++) {
    const ring = await d.keys.provisionalRing([artifact.signature.signerId]);
    await assertVerifies(d, artifact, ring);
    // the request's own settings first: a 400 naming the field before any gate
    const canary = canaryFor(req.kind, req.targetEnv, req.canary, req.rollout);
    const decision = await decide(d, req, artifact, ring);
    const p: StoredPromotion = {
      promotionId: randomUUID(),
      kind: req.kind,
      artifactId: req.artifactId,
      modelName: artifact.modelName,
      targetEnv: req.targetEnv,
      manifestSignatureId: artifact.signature.manifestSignatureId,
      status: requestedStatus(decision),
      requestedBy: req.principal.id,
      reason: req.reason,
      canary,
      policyDecision: decision,
      threshold: multisigThreshold(decision),
      createdAt: d.clock.now(),
      appliedAt: null,
      recordSignature: null,
      rolloutState: null,
    };
    try {
      p.recordSignature = { ...(await storeRequest(d, req, p, ring)) };
    } catch (e) {
      if (e instanceof RingChanged && attempt < 3) continue;
      throw e;
    }
    d.metrics?.promotion(p.targetEnv, p.status);
    if (p.status === 'denied') {
      throw new AegisError(
        'POLICY_DENIED',
        `SentinelNet denied the ${p.kind}: ${decision.reasons.join('; ') || decision.rules.join(', ')}`,
        {
          details: { promotionId: p.promotionId, rules: decision.rules, reasons: decision.reasons },
        },
      );
    }
    if (p.status === 'rolling_out') await d.workflows.start(machineOf(p.kind), p.promotionId, { promotionId: p.promotionId });
    return p;
  }
}

/** Refused unless the artifact's manifest and bytes verify (the bytes are read again): a tampered one never gets further. */
async function assertVerifies(d: PromotionDeps, artifact: ArtifactRecord, ring: RingView): Promise<void> {
  const { artifactId } = artifact;
  const report = await d.verification.validateArtifact(artifactId, { record: artifact, keys: ring.keys, quarantine: null });
  if (!report.ok) {
    const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.check}: ${c.reason}`);
    throw new AegisError('VERIFICATION_FAILED', `artifact ${artifactId} does not verify: ${failed.join('; ')}`, {
      field: 'artifactId',
      details: { checks: failed },
    });
  }
}

/**
 * SentinelNet's decision on the request. The gates' facts come from the audit chain and the
 * signed records, not the status column or the routes table alone: what serves there is the
 * last verifiably applied promotion.
 */
async function decide(d: PromotionDeps, req: PromotionRequest, artifact: ArtifactRecord, ring: RingView): Promise<PolicyDecision> {
  const { kind, artifactId, targetEnv, principal } = req;
  const evidence = await gatherGateEvidence(
    d.database.db,
    { audit: d.audit, keys: ring.keys, routedStable: (model, env) => d.rollout.routedStable(model, env) },
    { artifactId, targetEnv, modelName: artifact.modelName },
  );
  const servingId = evidence.serving?.stableArtifactId ?? null;
  const serving = servingId ? await d.registry.get(servingId) : undefined;
  if (kind === 'rollback' && servingId === artifactId && evidence.problems.length === 0)
    throw new AegisError('CONFLICT', `${artifactId} already serves ${artifact.modelName} in ${targetEnv}`, { field: 'artifactId' });
  if (kind === 'promote' && req.rollout?.strategy === 'shadow' && !servingId)
    throw new AegisError(
      'CONFLICT',
      `nothing serves ${artifact.modelName} in ${targetEnv}: a shadow has no answers to be compared with (request a canary or blue-green)`,
      { field: 'strategy' },
    );
  return d.policy.decide({
    artifact: {
      artifactId,
      modelName: artifact.modelName,
      version: String(artifact.version),
      manifestSignatureValid: true,
      signerId: artifact.signature.signerId,
      codeRef: artifact.manifest.codeRef,
      datasets: artifact.manifest.datasetRefs.map((r) => ({ id: r.id, version: r.version, checksum: r.checksum })),
      metrics: numericMetrics(artifact.manifest.metrics),
    },
    targetEnv,
    requester: { id: principal.id, role: principal.role },
    production: serving ? { artifactId: serving.artifactId, metrics: numericMetrics(serving.manifest.metrics) } : null,
    canaryPassedRequestsPerArm: evidence.canaryPassedRequestsPerArm,
    canaryCompleted: evidence.canaryPassedRequestsPerArm >= DEFAULT_MIN_REQUESTS,
    servedBefore: evidence.servedBefore,
    evidenceProblems: evidence.problems,
    action: kind,
    // the request's strategy (high-risk-prod-requires-shadow); a rollback sets the route at once, as a canary
    strategy: kind === 'promote' ? (req.rollout?.strategy ?? 'canary') : 'canary',
    ...(kind === 'rollback' ? { critical: req.critical ?? false } : {}),
    // refused (409) before verification when it is: the one read of its state
    quarantined: false,
    ...(req.quarantineRollback ? { quarantineRollback: true } : {}),
  });
}

/**
 * Stores the promotion with its signed record and its `promotion.requested` event, in one
 * transaction; another promotion in flight for the model and environment is a conflict.
 * The record is signed before the transaction with the ring's manifest key; the events of the
 * change (a stale pending promotion closed on the way, then the request's) are appended
 * together and last, and the ring is confirmed unchanged under the chain head's lock.
 * Returns the record's signature.
 */
async function storeRequest(d: PromotionDeps, req: PromotionRequest, p: StoredPromotion, ring: RingView): Promise<RecordSignature> {
  const record = {
    ...recordIdentity(p),
    status: p.status,
    policyDecision: p.policyDecision,
    createdAt: p.createdAt.toISOString(),
  };
  const recordSignature = await signRecordWith(d.keys.signerIn(ring, 'manifest'), record, p.createdAt);
  let closed: AuditInput[] = [];
  try {
    await d.database.db.transaction().execute(async (tx) => {
      closed = p.status !== 'denied' ? await makeWay(d, tx, req, p) : [];
      const row = promotionRow({ ...p, recordSignature: { ...recordSignature } }, p.status !== 'denied');
      const head = await insertPromotion(tx, row, d.audit.lockHead);
      // everything the promotions row holds, so a rebuild from the archive can restore it
      await d.audit.appendAll(
        tx,
        [
          ...closed,
          {
            type: 'promotion.requested',
            actor: p.requestedBy,
            subject: `promotion:${p.promotionId}`,
            payload: { ...record, reason: p.reason, modelName: p.modelName, canary: p.canary, threshold: p.threshold, recordSignature },
          },
        ],
        head,
      );
      if (!d.keys.isRingCurrent(tx, ring)) throw new RingChanged();
    });
  } catch (e) {
    if (!isUniqueViolation(e)) throw e;
    const other = await findInFlight(d.database.db, p.modelName, p.targetEnv);
    throw new AegisError(
      'CONFLICT',
      `promotion ${other?.promotionId ?? '?'} of ${p.modelName} to ${p.targetEnv} is in flight (${other?.status ?? 'unknown'})`,
      { field: 'targetEnv', details: { promotionId: other?.promotionId } },
    );
  }
  for (const e of closed) d.metrics?.promotion(p.targetEnv, String(e.payload.status));
  return recordSignature;
}

/**
 * What holds the model and environment may be stale (a pending promotion past its expiry is
 * expired), or may have to make way: an emergency rollback never waits for another artifact's
 * approvals. Returns the event of the promotion it closed, for the caller to append with its own.
 */
async function makeWay(d: PromotionDeps, tx: Tx, req: PromotionRequest, p: StoredPromotion): Promise<AuditInput[]> {
  const holder = await lockInFlight(tx, p.modelName, p.targetEnv);
  if (holder?.status !== 'pending_multisig') return [];
  if (expiredPending(d, holder, p.createdAt))
    return [await leavePendingFor(d, tx, { promotion: holder, status: 'expired', actor: 'system', at: p.createdAt })];
  if (
    req.kind === 'rollback' &&
    (req.critical || req.quarantineRollback) &&
    holder.kind === 'promote' &&
    holder.artifactId !== p.artifactId
  ) {
    return [
      await leavePendingFor(d, tx, {
        promotion: holder,
        status: 'cancelled',
        actor: req.principal.id,
        at: p.createdAt,
        reason: `superseded by ${req.critical ? 'critical' : 'quarantine'} rollback ${p.promotionId} to artifact ${p.artifactId}: ${p.reason}`,
        supersededBy: p.promotionId,
      }),
    ];
  }
  return [];
}
