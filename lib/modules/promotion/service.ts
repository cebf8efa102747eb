import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import * as z from 'zod';
import { approvalCounts, approvalStatement, checkApproval, type ApprovalCheck, type ApprovalRefusal } from '../../kernel/approvals.js';
import { canonicalJson } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';
import type { PolicyDecision, PolicyEngine, TargetEnv } from '../../kernel/policy.js';
import { DEFAULT_CANARY, DEFAULT_MIN_REQUESTS, machineOf, type CanaryConfig, type RolloutState } from '../rollout/domain.js';
import { statementBytes } from '../../kernel/signatures.js';
import { isUniqueViolation } from '../../platform/sql/errors.js';
import { toIso, toIsoOrNull, type DB } from '../../platform/sql/schema.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database, Executor } from '../../platform/ports/database.js';
import type { Workflows } from '../../platform/ports/workflows.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { KeyService } from '../keys/service.js';
import { record } from '../../platform/metrics.js';
import type { Principal } from '../../kernel/identity.js';
import type { RegistryService } from '../registry/service.js';
import type { VerificationService } from '../registry/verification.js';
import { approvalProblems, gatherGateEvidence } from './gate-evidence.js';
import { loadVerdicts, presentRollout, type CanaryVerdictView, type RolloutView } from './view.js';

export const CanaryOverrides = z
  .object({
    percent: z.number().int().min(1).max(100).optional(),
    windowSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 86400)
      .optional(),
    steps: z.number().int().min(0).max(20).optional(),
    rollbackThreshold: z.number().min(0).max(1).optional(),
    maxInconclusive: z.number().int().min(0).max(50).optional(),
    minRequests: z.number().int().min(1).max(10_000_000).optional(),
  })
  .strict();

export const PROMOTION_STATUSES = [
  'pending_multisig',
  'rolling_out',
  'succeeded',
  'rolled_back',
  'failed',
  'denied',
  'cancelled',
  'expired',
] as const;
export type PromotionStatus = (typeof PROMOTION_STATUSES)[number];

/** How long a multisig promotion waits for its approvals by default (AEGIS_PENDING_PROMOTION_TTL_SECONDS). */
export const DEFAULT_PENDING_PROMOTION_TTL_SECONDS = 7 * 86_400;

export interface PromotionRecord {
  promotionId: string;
  kind: 'promote' | 'rollback';
  artifactId: string;
  modelName: string;
  targetEnv: string;
  manifestSignatureId: string;
  status: PromotionStatus;
  requestedBy: string;
  reason: string;
  canary: CanaryConfig;
  policyDecision: PolicyDecision;
  threshold: number | null;
  /** `valid` (pending promotions only): whether the approval counts now (unexpired statement, unrevoked key) */
  approvals: { approverId: string; at: string; expiresAt: string; valid?: boolean; reason?: string }[];
  createdAt: string;
  /** when a pending multisig promotion expires (null once it is no longer pending) */
  expiresAt: string | null;
  appliedAt: string | null;
  recordSignature: Record<string, unknown> | null;
  rollout: RolloutView | null;
}

type Row = {
  promotion_id: string;
  kind: string;
  artifact_id: string;
  model_name: string;
  target_env: string;
  manifest_signature_id: string;
  status: string;
  requested_by: string;
  reason: string;
  canary: string;
  policy_decision: string;
  threshold: number | null;
  created_at: Date | string;
  applied_at: Date | string | null;
  record_signature: string | null;
  rollout_state: string | null;
};

export interface PromotionDeps {
  database: Database;
  registry: RegistryService;
  verification: VerificationService;
  keys: KeyService;
  audit: AuditLog;
  policy: PolicyEngine;
  workflows: Workflows;
  clock: Clock;
  /** seconds a pending multisig promotion waits for approvals before it expires (default 7 days) */
  pendingTtlSeconds?: number;
  /** at most this many pending promotions are expired per run of the expiry job (default {@link DEFAULT_PENDING_EXPIRY_BATCH}) */
  expiryBatch?: number;
}

/** Pending promotions one expiry run closes at most: each is a transaction and a signed audit event. */
export const DEFAULT_PENDING_EXPIRY_BATCH = 200;

type Tx = Transaction<DB>;

/** The request field each approval refusal is about. */
const REFUSAL_FIELD: Record<ApprovalRefusal, string> = {
  'unknown-key': 'approverId',
  'wrong-role': 'approverId',
  revoked: 'approverId',
  'key-not-valid': 'approverId',
  requester: 'approverId',
  duplicate: 'approverId',
  'bad-signature': 'signature',
  expired: 'expiresAt',
  'expiry-too-far': 'expiresAt',
  // the promotion's stored approvals, not this request, are at fault
  'evidence-mismatch': 'promotionId',
};

const numericMetrics = (m: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'number' && Number.isFinite(v))) as Record<string, number>;

/**
 * Promotions: a model reaches an environment only through one — manifest and bytes
 * verified first (fail closed), SentinelNet asked, approvals gathered when it says so, and
 * the rollout run as a state machine. One promotion per model and environment in flight.
 */
export class PromotionService {
  /** rolling-out promotions without a lease, and since when this process has seen them so (the takeover sweep) */
  #unleasedSince = new Map<string, number>();

  constructor(private readonly d: PromotionDeps) {}

  async promote(
    artifactId: string,
    req: { targetEnv: TargetEnv; canary?: z.infer<typeof CanaryOverrides>; reason: string },
    principal: Principal,
  ) {
    return this.#request('promote', artifactId, req.targetEnv, req.reason, req.canary, principal, false);
  }

  /** A manual rollback to an earlier artifact: promotion-like, policy-checked, multisig when critical. */
  async rollback(artifactId: string, req: { targetEnv: TargetEnv; reason: string; critical: boolean }, principal: Principal) {
    return this.#request('rollback', artifactId, req.targetEnv, req.reason, undefined, principal, req.critical);
  }

  async #request(
    kind: 'promote' | 'rollback',
    artifactId: string,
    targetEnv: TargetEnv,
    reason: string,
    overrides: z.infer<typeof CanaryOverrides> | undefined,
    principal: Principal,
    critical: boolean,
  ) {
    const artifact = await this.d.registry.get(artifactId);
    if (!artifact) throw new AegisError('NOT_FOUND', `no artifact ${artifactId}`, { field: 'artifactId' });
    // Fail closed before the policy is asked: a tampered manifest or artifact never gets further.
    const report = await this.d.verification.validateArtifact(artifactId);
    if (!report.ok) {
      const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.check}: ${c.reason}`);
      throw new AegisError('VERIFICATION_FAILED', `artifact ${artifactId} does not verify: ${failed.join('; ')}`, {
        field: 'artifactId',
        details: { checks: failed },
      });
    }
    const db = this.d.database.db;
    // The gates' facts come from the audit chain and the signed records, not the status column
    // or the routes table alone: what serves there is the last verifiably applied promotion.
    const evidence = await gatherGateEvidence(db, () => this.d.keys.list(), { artifactId, targetEnv, modelName: artifact.modelName });
    const servingId = evidence.serving?.stableArtifactId ?? null;
    const serving = servingId ? await this.d.registry.get(servingId) : undefined;
    if (kind === 'rollback' && servingId === artifactId && evidence.problems.length === 0)
      throw new AegisError('CONFLICT', `${artifactId} already serves ${artifact.modelName} in ${targetEnv}`, { field: 'artifactId' });
    const decision = await this.d.policy.decide({
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
      riskTier: 'medium', // replaced by the composition root from SentinelNet's configuration
      canaryPassedRequestsPerArm: evidence.canaryPassedRequestsPerArm,
      canaryCompleted: evidence.canaryPassedRequestsPerArm >= DEFAULT_MIN_REQUESTS,
      servedBefore: evidence.servedBefore,
      evidenceProblems: evidence.problems,
      action: kind,
      ...(kind === 'rollback' ? { critical } : {}),
    });
    const canary: CanaryConfig =
      kind === 'rollback' ? { ...DEFAULT_CANARY.staging } : { ...DEFAULT_CANARY[targetEnv], ...(overrides ?? {}) };
    const status = decision.decision === 'deny' ? 'denied' : decision.decision === 'require_multisig' ? 'pending_multisig' : 'rolling_out';
    const promotionId = randomUUID();
    const now = this.d.clock.now();
    try {
      await db.transaction().execute(async (tx) => {
        if (status !== 'denied') {
          // What holds this model and environment may be stale, or may have to make way.
          const holder = await tx
            .selectFrom('promotions')
            .selectAll()
            .where('in_flight_key', '=', `${artifact.modelName}:${targetEnv}`)
            .forUpdate()
            .executeTakeFirst();
          if (holder?.status === 'pending_multisig') {
            if (this.#expired(holder, now)) await this.#close(tx, holder, 'expired', 'system', now, {});
            else if (kind === 'rollback' && critical && holder.kind === 'promote' && holder.artifact_id !== artifactId) {
              // An emergency rollback never waits for another artifact's approvals.
              await this.#close(tx, holder, 'cancelled', principal.id, now, {
                reason: `superseded by critical rollback ${promotionId} to artifact ${artifactId}: ${reason}`,
                supersededBy: promotionId,
              });
            }
          }
        }
        const record = {
          promotionId,
          kind,
          artifactId,
          targetEnv,
          manifestSignatureId: artifact.signature.manifestSignatureId,
          status,
          policyDecision: decision,
          createdAt: now.toISOString(),
        };
        const signer = await this.d.keys.activeSigner('manifest', tx);
        const recordSignature = {
          signerId: signer.kid,
          alg: signer.alg,
          ts: now.toISOString(),
          signature: (await signer.sign(statementBytes({ type: 'aegis.promotion-record/v1', ...record }))).toString('base64'),
        };
        await tx
          .insertInto('promotions')
          .values({
            promotion_id: promotionId,
            kind,
            artifact_id: artifactId,
            model_name: artifact.modelName,
            target_env: targetEnv,
            manifest_signature_id: artifact.signature.manifestSignatureId,
            status,
            requested_by: principal.id,
            reason,
            canary: canonicalJson(canary),
            policy_decision: canonicalJson(decision),
            threshold: decision.decision === 'require_multisig' ? (decision.threshold ?? 3) : null,
            in_flight_key: status === 'denied' ? null : `${artifact.modelName}:${targetEnv}`,
            created_at: now,
            applied_at: null,
            record_signature: canonicalJson(recordSignature),
            rollout_state: null,
          })
          .execute();
        // everything the promotions row holds, so a rebuild from the archive can restore it
        await this.d.audit.append(tx, {
          type: 'promotion.requested',
          actor: principal.id,
          subject: `promotion:${promotionId}`,
          payload: {
            ...record,
            reason,
            modelName: artifact.modelName,
            canary,
            threshold: decision.decision === 'require_multisig' ? (decision.threshold ?? 3) : null,
            recordSignature,
          },
        });
      });
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      const other = await db
        .selectFrom('promotions')
        .select(['promotion_id', 'status'])
        .where('in_flight_key', '=', `${artifact.modelName}:${targetEnv}`)
        .executeTakeFirst();
      throw new AegisError(
        'CONFLICT',
        `promotion ${other?.promotion_id ?? '?'} of ${artifact.modelName} to ${targetEnv} is in flight (${other?.status ?? 'unknown'})`,
        { field: 'targetEnv', details: { promotionId: other?.promotion_id } },
      );
    }
    record.promotion(targetEnv, status);
    if (status === 'denied') {
      throw new AegisError('POLICY_DENIED', `SentinelNet denied the ${kind}: ${decision.reasons.join('; ') || decision.rules.join(', ')}`, {
        details: { promotionId, rules: decision.rules, reasons: decision.reasons },
      });
    }
    if (status === 'rolling_out') await this.d.workflows.start(machineOf(kind), promotionId, { promotionId });
    return (await this.get(promotionId))!;
  }

  /**
   * One approval: checked by TUF rules, refusals audited without counting. The quorum is
   * computed now, over the approvals valid now (statement unexpired, key unrevoked and in its
   * window): one that stopped counting may be renewed by its approver. When the threshold is
   * reached exactly one transition to rolling_out happens (the promotion row is locked), and
   * exactly one rollout starts. A promotion past its expiry is expired instead (409).
   */
  async approve(promotionId: string, body: { approverId: string; signature: string; expiresAt: string }, principal: Principal) {
    const db = this.d.database.db;
    const now = this.d.clock.now();
    let outcome: { accepted: boolean; expired?: boolean; reason?: string; refusal?: ApprovalRefusal; transitioned: boolean; kind: string } =
      { accepted: false, transitioned: false, kind: 'promote' };
    await db.transaction().execute(async (tx) => {
      const p = await tx.selectFrom('promotions').selectAll().where('promotion_id', '=', promotionId).forUpdate().executeTakeFirst();
      if (!p) throw new AegisError('NOT_FOUND', `no promotion ${promotionId}`, { field: 'promotionId' });
      if (p.status === 'pending_multisig' && this.#expired(p, now)) {
        await this.#close(tx, p, 'expired', 'system', now, {});
        outcome = { accepted: false, expired: true, transitioned: false, kind: p.kind };
        return;
      }
      if (p.status !== 'pending_multisig')
        throw new AegisError('CONFLICT', `promotion ${promotionId} is ${p.status}: it takes no approvals`, { field: 'promotionId' });
      const artifact = await tx
        .selectFrom('artifacts')
        .select('manifest_sha256')
        .where('artifact_id', '=', p.artifact_id)
        .executeTakeFirstOrThrow();
      const subject = { promotionId, artifactId: p.artifact_id, manifestSha256: artifact.manifest_sha256.trim(), targetEnv: p.target_env };
      // inside the transaction: PGlite has one connection
      const { valid, stale, tampered } = await this.#quorum(tx, subject, now);
      const key = await this.d.keys.get(body.approverId, tx);
      const check: ApprovalCheck =
        tampered.size > 0
          ? // Stored approvals the signatures and the chain do not back: nothing is counted until they are gone (cancel and request again).
            {
              ok: false,
              refusal: 'evidence-mismatch',
              reason: `promotion ${promotionId} holds approvals the audit chain and their signatures do not support, so none is counted: ${[...tampered.values()].join('; ')}`,
            }
          : checkApproval({
              key,
              keyOwner: key?.owner ?? null,
              statement: approvalStatement(subject, body.expiresAt),
              signatureB64: body.signature,
              requester: p.requested_by,
              alreadyCounted: valid,
              now,
            });
      outcome = {
        accepted: check.ok,
        ...(check.reason ? { reason: check.reason } : {}),
        ...(check.refusal ? { refusal: check.refusal } : {}),
        transitioned: false,
        kind: p.kind,
      };
      if (!check.ok) {
        await this.d.audit.append(tx, {
          type: 'promotion.approval_refused',
          actor: principal.id,
          subject: `promotion:${promotionId}`,
          payload: {
            approverId: body.approverId,
            refusal: check.refusal,
            reason: check.reason,
            count: valid.size,
            threshold: p.threshold,
            ...(tampered.size > 0 ? { tampered: [...tampered.keys()].sort() } : {}),
          },
        });
        return;
      }
      // an approval that stopped counting (its statement expired) is replaced by the renewed one
      const renews = stale.has(body.approverId);
      if (renews)
        await tx
          .deleteFrom('promotion_approvals')
          .where('promotion_id', '=', promotionId)
          .where('approver_kid', '=', body.approverId)
          .execute();
      await tx
        .insertInto('promotion_approvals')
        .values({
          promotion_id: promotionId,
          approver_kid: body.approverId,
          signature: body.signature,
          expires_at: body.expiresAt,
          created_at: now,
        })
        .execute();
      const counted = [...valid, body.approverId].sort();
      await this.d.audit.append(tx, {
        type: 'promotion.approval_accepted',
        actor: principal.id,
        subject: `promotion:${promotionId}`,
        payload: {
          approverId: body.approverId,
          signature: body.signature,
          count: counted.length,
          threshold: p.threshold,
          expiresAt: body.expiresAt,
          at: now.toISOString(),
          counted,
          ...(renews ? { renews: true } : {}),
        },
      });
      if (counted.length >= (p.threshold ?? Number.POSITIVE_INFINITY)) {
        await tx
          .updateTable('promotions')
          .set({ status: 'rolling_out' })
          .where('promotion_id', '=', promotionId)
          .where('status', '=', 'pending_multisig')
          .execute();
        await this.d.audit.append(tx, {
          type: 'promotion.approved',
          actor: principal.id,
          subject: `promotion:${promotionId}`,
          payload: { approvers: counted, threshold: p.threshold },
        });
        outcome.transitioned = true;
      }
    });
    if (outcome.expired) throw this.#expiredError(promotionId);
    if (!outcome.accepted)
      throw new AegisError('APPROVAL_REFUSED', outcome.reason ?? 'approval refused', {
        field: REFUSAL_FIELD[outcome.refusal ?? 'unknown-key'],
        details: { refusal: outcome.refusal },
      });
    if (outcome.transitioned) await this.d.workflows.start(machineOf(outcome.kind), promotionId, { promotionId });
    return (await this.get(promotionId))!;
  }

  /**
   * Cancels a pending multisig promotion: only its requester or an admin, audited with the
   * reason. Rolling out or finished promotions are not cancelled (409): roll back instead.
   */
  async cancel(promotionId: string, reason: string, principal: Principal) {
    const now = this.d.clock.now();
    let expired = false;
    await this.d.database.db.transaction().execute(async (tx) => {
      const p = await tx.selectFrom('promotions').selectAll().where('promotion_id', '=', promotionId).forUpdate().executeTakeFirst();
      if (!p) throw new AegisError('NOT_FOUND', `no promotion ${promotionId}`, { field: 'promotionId' });
      if (principal.id !== p.requested_by && principal.role !== 'admin') {
        throw new AegisError('FORBIDDEN', `only its requester (${p.requested_by}) or an admin may cancel promotion ${promotionId}`, {
          field: 'promotionId',
        });
      }
      if (p.status === 'pending_multisig' && this.#expired(p, now)) {
        await this.#close(tx, p, 'expired', 'system', now, {});
        expired = true;
        return;
      }
      if (p.status !== 'pending_multisig') {
        throw new AegisError(
          'CONFLICT',
          `promotion ${promotionId} is ${p.status}: only a pending promotion can be cancelled${p.status === 'rolling_out' ? ' (a rollout ends by rolling back)' : ''}`,
          { field: 'promotionId' },
        );
      }
      await this.#close(tx, p, 'cancelled', principal.id, now, { reason });
    });
    if (expired) throw this.#expiredError(promotionId);
    return (await this.get(promotionId))!;
  }

  /**
   * The `pending-promotion-expiry` job (the in-process scheduler locally, an EventBridge rule on
   * AWS): marks pending multisig promotions past their expiry `expired`, each in its own
   * transaction with its `promotion.expired` event, oldest first and at most
   * {@link PromotionDeps.expiryBatch} per run (`more` says the next run has work left). Each is
   * also expired when next touched. Safe to repeat and to overlap: a row already closed is skipped.
   *
   * @example
   * await promotions.expirePending(); // { expired: ['5f0c…'], more: false }
   */
  async expirePending(): Promise<{ expired: string[]; more: boolean }> {
    const now = this.d.clock.now();
    const cutoff = new Date(now.getTime() - this.#ttlMs());
    const batch = this.d.expiryBatch ?? DEFAULT_PENDING_EXPIRY_BATCH;
    const rows = await this.d.database.db
      .selectFrom('promotions')
      .select('promotion_id')
      .where('status', '=', 'pending_multisig')
      .where('created_at', '<=', cutoff)
      .orderBy('created_at')
      .limit(batch + 1)
      .execute();
    const stale = rows.slice(0, batch);
    const done: string[] = [];
    for (const { promotion_id: id } of stale) {
      await this.d.database.db.transaction().execute(async (tx) => {
        const p = await tx.selectFrom('promotions').selectAll().where('promotion_id', '=', id).forUpdate().executeTakeFirst();
        if (p?.status !== 'pending_multisig' || !this.#expired(p, now)) return;
        await this.#close(tx, p, 'expired', 'system', now, {});
        done.push(id);
      });
    }
    return { expired: done, more: rows.length > batch };
  }

  #ttlMs(): number {
    return (this.d.pendingTtlSeconds ?? DEFAULT_PENDING_PROMOTION_TTL_SECONDS) * 1000;
  }

  #expiresAt(createdAt: Date | string): Date {
    return new Date(Date.parse(toIso(createdAt)) + this.#ttlMs());
  }

  #expired(p: { created_at: Date | string }, now: Date): boolean {
    return now.getTime() >= this.#expiresAt(p.created_at).getTime();
  }

  #expiredError(promotionId: string): AegisError {
    return new AegisError(
      'PROMOTION_EXPIRED',
      `promotion ${promotionId} expired waiting for approvals (after ${this.#ttlMs() / 1000} s); request it again`,
      { field: 'promotionId' },
    );
  }

  /** Ends a pending promotion as cancelled or expired: out of flight, audited in the same transaction. */
  async #close(
    tx: Tx,
    p: Row,
    status: 'cancelled' | 'expired',
    actor: string,
    now: Date,
    extra: { reason?: string; supersededBy?: string },
  ): Promise<void> {
    await tx
      .updateTable('promotions')
      .set({ status, in_flight_key: null })
      .where('promotion_id', '=', p.promotion_id)
      .where('status', '=', 'pending_multisig')
      .execute();
    await this.d.audit.append(tx, {
      type: status === 'cancelled' ? 'promotion.cancelled' : 'promotion.expired',
      actor,
      subject: `promotion:${p.promotion_id}`,
      payload: {
        promotionId: p.promotion_id,
        kind: p.kind,
        artifactId: p.artifact_id,
        modelName: p.model_name,
        targetEnv: p.target_env,
        status,
        createdAt: toIso(p.created_at),
        expiresAt: this.#expiresAt(p.created_at).toISOString(),
        at: now.toISOString(),
        ...extra,
      },
    });
    record.promotion(p.target_env, status);
  }

  /**
   * The approvers whose approvals count at `now`, those whose approvals stopped counting
   * (expired statement, revoked key: renewable), and the stored approvals that cannot be
   * relied on at all (signature or chain mismatch: counted neither way), with the reason of each.
   */
  async #quorum(db: Executor, subject: { promotionId: string; artifactId: string; manifestSha256: string; targetEnv: string }, now: Date) {
    const rows = await db
      .selectFrom('promotion_approvals')
      .select(['approver_kid', 'signature', 'expires_at'])
      .where('promotion_id', '=', subject.promotionId)
      .execute();
    const ring = new Map((await this.d.keys.list(db)).map((k) => [k.kid, k]));
    const tampered = await approvalProblems(db, (kid) => ring.get(kid), subject, rows);
    const valid = new Set<string>();
    const stale = new Set<string>();
    const why = new Map<string, string>(tampered);
    for (const r of rows) {
      if (tampered.has(r.approver_kid)) continue;
      const counts = approvalCounts(ring.get(r.approver_kid), r.expires_at, now);
      (counts.ok ? valid : stale).add(r.approver_kid);
      if (counts.reason) why.set(r.approver_kid, counts.reason);
    }
    return { valid, stale, tampered, why };
  }

  async get(promotionId: string): Promise<(PromotionRecord & { trace: unknown[]; verdicts: CanaryVerdictView[] }) | undefined> {
    const db = this.d.database.db;
    const row = await db.selectFrom('promotions').selectAll().where('promotion_id', '=', promotionId).executeTakeFirst();
    if (!row) return undefined;
    const steps = await db.selectFrom('promotion_steps').selectAll().where('promotion_id', '=', promotionId).orderBy('step').execute();
    const record = await this.#toRecord(row);
    return {
      ...record,
      verdicts: await loadVerdicts(db, promotionId, record.canary),
      trace: steps.map((s) => ({
        step: s.step,
        state: s.state,
        enteredAt: toIso(s.entered_at),
        finishedAt: toIsoOrNull(s.finished_at),
        input: JSON.parse(s.input) as unknown,
        output: s.output ? (JSON.parse(s.output) as unknown) : null,
        error: s.error,
        runner: s.runner ?? null,
        leaseToken: s.lease_token ?? null,
      })),
    };
  }

  async history(artifactId: string): Promise<PromotionRecord[]> {
    const rows = await this.d.database.db
      .selectFrom('promotions')
      .selectAll()
      .where('artifact_id', '=', artifactId)
      .orderBy('created_at')
      .execute();
    return Promise.all(rows.map((r) => this.#toRecord(r)));
  }

  async #toRecord(r: Row): Promise<PromotionRecord> {
    const db = this.d.database.db;
    const now = this.d.clock.now();
    const rows = await db
      .selectFrom('promotion_approvals')
      .select(['approver_kid', 'created_at', 'expires_at'])
      .where('promotion_id', '=', r.promotion_id)
      .orderBy('created_at')
      .execute();
    const pending = r.status === 'pending_multisig';
    // past its expiry a pending promotion is expired, whether or not anything has touched it since
    const expired = pending && this.#expired(r, now);
    let quorum: Awaited<ReturnType<PromotionService['quorumOf']>> | undefined;
    if (pending && !expired && rows.length > 0) quorum = await this.quorumOf(db, r, now);
    const approvals: PromotionRecord['approvals'] = [];
    for (const a of rows) {
      const item: PromotionRecord['approvals'][number] = { approverId: a.approver_kid, at: toIso(a.created_at), expiresAt: a.expires_at };
      if (quorum) {
        item.valid = quorum.valid.has(a.approver_kid);
        const reason = quorum.why.get(a.approver_kid);
        if (reason) item.reason = reason;
      }
      approvals.push(item);
    }
    return {
      promotionId: r.promotion_id,
      kind: r.kind as PromotionRecord['kind'],
      artifactId: r.artifact_id,
      modelName: r.model_name,
      targetEnv: r.target_env,
      manifestSignatureId: r.manifest_signature_id,
      status: expired ? 'expired' : (r.status as PromotionRecord['status']),
      requestedBy: r.requested_by,
      reason: r.reason,
      canary: JSON.parse(r.canary) as CanaryConfig,
      policyDecision: JSON.parse(r.policy_decision) as PolicyDecision,
      threshold: r.threshold,
      approvals,
      createdAt: toIso(r.created_at),
      expiresAt: pending ? this.#expiresAt(r.created_at).toISOString() : null,
      appliedAt: toIsoOrNull(r.applied_at),
      recordSignature: r.record_signature ? (JSON.parse(r.record_signature) as Record<string, unknown>) : null,
      rollout: presentRollout(
        r.rollout_state ? (JSON.parse(r.rollout_state) as RolloutState) : null,
        JSON.parse(r.canary) as CanaryConfig,
        r.status,
        r.kind,
      ),
    };
  }

  /** The quorum of a stored promotion as {@link approve} computes it (for the view). */
  private async quorumOf(db: Executor, r: Row, now: Date) {
    const artifact = await db.selectFrom('artifacts').select('manifest_sha256').where('artifact_id', '=', r.artifact_id).executeTakeFirst();
    return this.#quorum(
      db,
      {
        promotionId: r.promotion_id,
        artifactId: r.artifact_id,
        manifestSha256: artifact?.manifest_sha256.trim() ?? '',
        targetEnv: r.target_env,
      },
      now,
    );
  }

  /**
   * Local mode, at start and on the `rollout-takeover` schedule: restarts every unfinished
   * rollout nobody holds (its lease released, or expired because its runner died); each
   * resumes from its persisted step. A rollout another runner holds is left to it. One whose
   * runner never took the lease (just requested, or its server died before the first step) is
   * taken once it has stayed so for `unleasedGraceMs` as this process saw it (0 at start).
   */
  async resumeUnfinished(unleasedGraceMs = 0): Promise<string[]> {
    const rows = await this.d.database.db
      .selectFrom('promotions')
      .leftJoin('rollout_leases', 'rollout_leases.promotion_id', 'promotions.promotion_id')
      .select(['promotions.promotion_id', 'promotions.kind', 'rollout_leases.expires_at'])
      .where('promotions.status', '=', 'rolling_out')
      .execute();
    const now = this.d.clock.now().getTime();
    const unleased = new Map<string, number>();
    for (const r of rows) if (r.expires_at === null) unleased.set(r.promotion_id, this.#unleasedSince.get(r.promotion_id) ?? now);
    this.#unleasedSince = unleased;
    const free = rows.filter((r) =>
      r.expires_at === null ? now - unleased.get(r.promotion_id)! >= unleasedGraceMs : new Date(r.expires_at).getTime() <= now,
    );
    const started: string[] = [];
    for (const r of free) {
      const { started: ran } = await this.d.workflows.start(machineOf(r.kind), r.promotion_id, {
        promotionId: r.promotion_id,
      });
      if (ran) started.push(r.promotion_id);
    }
    return started;
  }
}
