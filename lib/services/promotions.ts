import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { approvalStatement, checkApproval } from '../core/approvals.js';
import { canonicalJson } from '../core/canonical.js';
import { AegisError } from '../core/errors.js';
import type { PolicyDecision, PolicyEngine, TargetEnv } from '../core/policy.js';
import { DEFAULT_CANARY, DEFAULT_MIN_REQUESTS, type CanaryConfig, type RolloutState } from '../core/rollout.js';
import { statementBytes } from '../core/signatures.js';
import { isUniqueViolation } from '../db/errors.js';
import { toIso, toIsoOrNull } from '../db/schema.js';
import type { Clock, Database, Workflows } from '../ports.js';
import type { AuditLog } from './audit.js';
import type { KeyService } from './keys.js';
import { record } from './metrics.js';
import type { Principal, RegistryService } from './registry.js';
import type { VerificationService } from './verification.js';
import { gatherGateEvidence } from './gate-evidence.js';
import { loadVerdicts, presentRollout, type CanaryVerdictView, type RolloutView } from './promotion-view.js';

export const CanaryOverrides = z
  .object({
    percent: z.number().int().min(1).max(100).optional(),
    windowSeconds: z.number().int().min(0).max(7 * 86400).optional(),
    steps: z.number().int().min(0).max(20).optional(),
    rollbackThreshold: z.number().min(0).max(1).optional(),
    maxInconclusive: z.number().int().min(0).max(50).optional(),
    minRequests: z.number().int().min(1).max(10_000_000).optional(),
  })
  .strict();

export interface PromotionRecord {
  promotionId: string;
  kind: 'promote' | 'rollback';
  artifactId: string;
  modelName: string;
  targetEnv: string;
  manifestSignatureId: string;
  status: 'pending_multisig' | 'rolling_out' | 'succeeded' | 'rolled_back' | 'failed' | 'denied';
  requestedBy: string;
  reason: string;
  canary: CanaryConfig;
  policyDecision: PolicyDecision;
  threshold: number | null;
  approvals: { approverId: string; at: string }[];
  createdAt: string;
  appliedAt: string | null;
  recordSignature: Record<string, unknown> | null;
  rollout: RolloutView | null;
}

type Row = { promotion_id: string; kind: string; artifact_id: string; model_name: string; target_env: string; manifest_signature_id: string; status: string; requested_by: string; reason: string; canary: string; policy_decision: string; threshold: number | null; created_at: Date | string; applied_at: Date | string | null; record_signature: string | null; rollout_state: string | null };

export interface PromotionDeps {
  database: Database;
  registry: RegistryService;
  verification: VerificationService;
  keys: KeyService;
  audit: AuditLog;
  policy: PolicyEngine;
  workflows: Workflows;
  clock: Clock;
}

const numericMetrics = (m: Record<string, unknown>) => Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'number' && Number.isFinite(v))) as Record<string, number>;

/**
 * Promotions: a model reaches an environment only through one — manifest and bytes
 * verified first (fail closed), SentinelNet asked, approvals gathered when it says so, and
 * the rollout run as a state machine. One promotion per model and environment in flight.
 */
export class PromotionService {
  constructor(private readonly d: PromotionDeps) {}

  async promote(artifactId: string, req: { targetEnv: TargetEnv; canary?: z.infer<typeof CanaryOverrides>; reason: string }, principal: Principal) {
    return this.#request('promote', artifactId, req.targetEnv, req.reason, req.canary, principal, false);
  }

  /** A manual rollback to an earlier artifact: promotion-like, policy-checked, multisig when critical. */
  async rollback(artifactId: string, req: { targetEnv: TargetEnv; reason: string; critical: boolean }, principal: Principal) {
    return this.#request('rollback', artifactId, req.targetEnv, req.reason, undefined, principal, req.critical);
  }

  async #request(kind: 'promote' | 'rollback', artifactId: string, targetEnv: TargetEnv, reason: string, overrides: z.infer<typeof CanaryOverrides> | undefined, principal: Principal, critical: boolean) {
    const artifact = await this.d.registry.get(artifactId);
    if (!artifact) throw new AegisError('NOT_FOUND', `no artifact ${artifactId}`, { field: 'artifactId' });
    // Fail closed before the policy is asked: a tampered manifest or artifact never gets further.
    const report = await this.d.verification.validateArtifact(artifactId);
    if (!report.ok) {
      const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.check}: ${c.reason}`);
      throw new AegisError('VERIFICATION_FAILED', `artifact ${artifactId} does not verify: ${failed.join('; ')}`, { field: 'artifactId', details: { checks: failed } });
    }
    const db = this.d.database.db;
    const route = await db.selectFrom('routes').selectAll().where('model_name', '=', artifact.modelName).where('env', '=', targetEnv).executeTakeFirst();
    const serving = route?.stable_artifact_id ? await this.d.registry.get(route.stable_artifact_id) : undefined;
    if (kind === 'rollback' && serving?.artifactId === artifactId) throw new AegisError('CONFLICT', `${artifactId} already serves ${artifact.modelName} in ${targetEnv}`, { field: 'artifactId' });
    // The gates' facts come from the audit chain and the signed records, not the status column alone.
    const evidence = await gatherGateEvidence(db, () => this.d.keys.list(), { artifactId, targetEnv });
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
    const canary: CanaryConfig = kind === 'rollback' ? { ...DEFAULT_CANARY.staging } : { ...DEFAULT_CANARY[targetEnv], ...(overrides ?? {}) };
    const status = decision.decision === 'deny' ? 'denied' : decision.decision === 'require_multisig' ? 'pending_multisig' : 'rolling_out';
    const promotionId = randomUUID();
    const now = this.d.clock.now();
    try {
      await db.transaction().execute(async (tx) => {
        const record = { promotionId, kind, artifactId, targetEnv, manifestSignatureId: artifact.signature.manifestSignatureId, status, policyDecision: decision, createdAt: now.toISOString() };
        const signer = await this.d.keys.activeSigner('manifest', tx);
        const recordSignature = { signerId: signer.kid, alg: signer.alg, ts: now.toISOString(), signature: (await signer.sign(statementBytes({ type: 'aegis.promotion-record/v1', ...record }))).toString('base64') };
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
          payload: { ...record, reason, modelName: artifact.modelName, canary, threshold: decision.decision === 'require_multisig' ? (decision.threshold ?? 3) : null, recordSignature },
        });
      });
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      const other = await db.selectFrom('promotions').select(['promotion_id', 'status']).where('in_flight_key', '=', `${artifact.modelName}:${targetEnv}`).executeTakeFirst();
      throw new AegisError('CONFLICT', `promotion ${other?.promotion_id ?? '?'} of ${artifact.modelName} to ${targetEnv} is in flight (${other?.status ?? 'unknown'})`, { field: 'targetEnv', details: { promotionId: other?.promotion_id } });
    }
    record.promotion(targetEnv, status);
    if (status === 'denied') {
      throw new AegisError('POLICY_DENIED', `SentinelNet denied the ${kind}: ${decision.reasons.join('; ') || decision.rules.join(', ')}`, { details: { promotionId, rules: decision.rules, reasons: decision.reasons } });
    }
    if (status === 'rolling_out') await this.d.workflows.start(kind === 'rollback' ? 'rollback' : 'promotion', promotionId, { promotionId });
    return (await this.get(promotionId))!;
  }

  /**
   * One approval: checked by TUF rules, refusals audited without counting. When the
   * threshold is reached exactly one transition to rolling_out happens (the promotion row is
   * locked), and exactly one rollout starts.
   */
  async approve(promotionId: string, body: { approverId: string; signature: string; expiresAt: string }, principal: Principal) {
    const db = this.d.database.db;
    const now = this.d.clock.now();
    let outcome: { accepted: boolean; reason?: string; refusal?: string; transitioned: boolean; kind: string } = { accepted: false, transitioned: false, kind: 'promote' };
    await db.transaction().execute(async (tx) => {
      const p = await tx.selectFrom('promotions').selectAll().where('promotion_id', '=', promotionId).forUpdate().executeTakeFirst();
      if (!p) throw new AegisError('NOT_FOUND', `no promotion ${promotionId}`, { field: 'promotionId' });
      if (p.status !== 'pending_multisig') throw new AegisError('CONFLICT', `promotion ${promotionId} is ${p.status}: it takes no approvals`, { field: 'promotionId' });
      const artifact = await tx.selectFrom('artifacts').select('manifest_sha256').where('artifact_id', '=', p.artifact_id).executeTakeFirstOrThrow();
      const counted = new Set((await tx.selectFrom('promotion_approvals').select('approver_kid').where('promotion_id', '=', promotionId).execute()).map((r) => r.approver_kid));
      const key = await this.d.keys.get(body.approverId, tx); // inside the transaction: PGlite has one connection
      const check = checkApproval({
        key,
        keyOwner: key?.owner ?? null,
        statement: approvalStatement({ promotionId, artifactId: p.artifact_id, manifestSha256: artifact.manifest_sha256.trim(), targetEnv: p.target_env }, body.expiresAt),
        signatureB64: body.signature,
        requester: p.requested_by,
        alreadyCounted: counted,
        now,
      });
      outcome = { accepted: check.ok, ...(check.reason ? { reason: check.reason } : {}), ...(check.refusal ? { refusal: check.refusal } : {}), transitioned: false, kind: p.kind };
      if (!check.ok) {
        await this.d.audit.append(tx, { type: 'promotion.approval_refused', actor: principal.id, subject: `promotion:${promotionId}`, payload: { approverId: body.approverId, refusal: check.refusal, reason: check.reason, count: counted.size, threshold: p.threshold } });
        return;
      }
      await tx.insertInto('promotion_approvals').values({ promotion_id: promotionId, approver_kid: body.approverId, signature: body.signature, expires_at: body.expiresAt, created_at: now }).execute();
      const count = counted.size + 1;
      await this.d.audit.append(tx, { type: 'promotion.approval_accepted', actor: principal.id, subject: `promotion:${promotionId}`, payload: { approverId: body.approverId, signature: body.signature, count, threshold: p.threshold, expiresAt: body.expiresAt, at: now.toISOString() } });
      if (count >= (p.threshold ?? Number.POSITIVE_INFINITY)) {
        await tx.updateTable('promotions').set({ status: 'rolling_out' }).where('promotion_id', '=', promotionId).where('status', '=', 'pending_multisig').execute();
        await this.d.audit.append(tx, { type: 'promotion.approved', actor: principal.id, subject: `promotion:${promotionId}`, payload: { approvers: [...counted, body.approverId].sort(), threshold: p.threshold } });
        outcome.transitioned = true;
      }
    });
    if (!outcome.accepted) throw new AegisError('APPROVAL_REFUSED', outcome.reason ?? 'approval refused', { field: outcome.refusal === 'bad-signature' || outcome.refusal === 'expired' || outcome.refusal === 'expiry-too-far' ? (outcome.refusal === 'bad-signature' ? 'signature' : 'expiresAt') : 'approverId', details: { refusal: outcome.refusal } });
    if (outcome.transitioned) await this.d.workflows.start(outcome.kind === 'rollback' ? 'rollback' : 'promotion', promotionId, { promotionId });
    return (await this.get(promotionId))!;
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
      trace: steps.map((s) => ({ step: s.step, state: s.state, enteredAt: toIso(s.entered_at), finishedAt: toIsoOrNull(s.finished_at), input: JSON.parse(s.input) as unknown, output: s.output ? (JSON.parse(s.output) as unknown) : null, error: s.error })),
    };
  }

  async history(artifactId: string): Promise<PromotionRecord[]> {
    const rows = await this.d.database.db.selectFrom('promotions').selectAll().where('artifact_id', '=', artifactId).orderBy('created_at').execute();
    return Promise.all(rows.map((r) => this.#toRecord(r)));
  }

  async #toRecord(r: Row): Promise<PromotionRecord> {
    const approvals = await this.d.database.db.selectFrom('promotion_approvals').select(['approver_kid', 'created_at']).where('promotion_id', '=', r.promotion_id).orderBy('created_at').execute();
    return {
      promotionId: r.promotion_id,
      kind: r.kind as PromotionRecord['kind'],
      artifactId: r.artifact_id,
      modelName: r.model_name,
      targetEnv: r.target_env,
      manifestSignatureId: r.manifest_signature_id,
      status: r.status as PromotionRecord['status'],
      requestedBy: r.requested_by,
      reason: r.reason,
      canary: JSON.parse(r.canary) as CanaryConfig,
      policyDecision: JSON.parse(r.policy_decision) as PolicyDecision,
      threshold: r.threshold,
      approvals: approvals.map((a) => ({ approverId: a.approver_kid, at: toIso(a.created_at) })),
      createdAt: toIso(r.created_at),
      appliedAt: toIsoOrNull(r.applied_at),
      recordSignature: r.record_signature ? (JSON.parse(r.record_signature) as Record<string, unknown>) : null,
      rollout: presentRollout(r.rollout_state ? (JSON.parse(r.rollout_state) as RolloutState) : null, JSON.parse(r.canary) as CanaryConfig, r.status, r.kind),
    };
  }

  /** Local mode after a restart: restart every unfinished rollout; each resumes from its persisted step. */
  async resumeUnfinished(): Promise<string[]> {
    const rows = await this.d.database.db.selectFrom('promotions').select(['promotion_id', 'kind']).where('status', '=', 'rolling_out').execute();
    for (const r of rows) await this.d.workflows.start(r.kind === 'rollback' ? 'rollback' : 'promotion', r.promotion_id, { promotionId: r.promotion_id });
    return rows.map((r) => r.promotion_id);
  }
}
