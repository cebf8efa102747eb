/**
 * Quarantine: "this one version must never be promoted, served or pulled again", and the
 * system acting on it. A `security` or admin principal quarantines an artifact (at once, or
 * after approvals when SentinelNet says so); only an admin releases it, and a release always
 * needs approvals. An applied request is signed with the manifest key and audited; an applied
 * quarantine is enforced (enforce.ts). The module owns `quarantine_requests` and
 * `quarantine_approvals`; the rest of Aegis reads the state through {@link QuarantineReader}.
 */
import { randomUUID } from 'node:crypto';
import { AegisError } from '../../kernel/errors.js';
import type { Principal } from '../../kernel/identity.js';
import type { PolicyDecision } from '../../kernel/policy.js';
import { isUniqueViolation } from '../../platform/sql/errors.js';
import type { ArtifactRecord } from '../registry/service.js';
import { applyRequest } from './apply.js';
import { approveRequest, type QuarantineApprovalBody } from './approvals.js';
import type { QuarantineDeps } from './deps.js';
import { requestStatus, type QuarantineAction, type QuarantineRequest } from './domain.js';
import { enforceQuarantine, resumeEnforcement } from './enforce.js';
import { insertRequest, pendingOf, requestRow, findRequest } from './store.js';
import { quarantineView, type QuarantineView } from './view.js';

export type { QuarantineDeps, QuarantineView };
export { QuarantineReader } from './status.js';

export class QuarantineService {
  constructor(private readonly d: QuarantineDeps) {}

  /**
   * Requests a quarantine (`action: 'quarantine'`) or its release. Applied at once when the
   * policy allows it outright (a quarantine is then enforced before this returns), pending
   * approvals when it requires multisig (a release always does), refused (403
   * `POLICY_DENIED`, nothing stored) when it denies.
   *
   * @example
   * await quarantines.request(artifactId, 'quarantine', 'signing key leaked', principal); // { quarantined: true, requests: [...] }
   */
  async request(artifactId: string, action: QuarantineAction, reason: string, principal: Principal): Promise<QuarantineView> {
    const artifact = await this.d.registry.get(artifactId);
    if (!artifact) throw new AegisError('NOT_FOUND', `no artifact ${artifactId}`, { field: 'artifactId' });
    const state = await this.d.reader.stateOf(artifactId);
    // asked again after a crash left it unenforced: enforce it now (the first request's reason stands)
    if (action === 'quarantine' && state && (await resumeEnforcement(this.d, 0, artifactId)).length) return (await this.get(artifactId))!;
    if (action === 'quarantine' && state)
      throw new AegisError('CONFLICT', `artifact ${artifactId} is already quarantined (request ${state.requestId})`, {
        field: 'artifactId',
      });
    if (action === 'release' && !state)
      throw new AegisError('CONFLICT', `artifact ${artifactId} is not quarantined: there is nothing to release`, { field: 'artifactId' });
    const decision = await this.#decide(artifact, action, principal, state !== null);
    if (decision.decision === 'deny')
      throw new AegisError(
        'POLICY_DENIED',
        `SentinelNet denied the ${action}: ${decision.reasons.join('; ') || decision.rules.join(', ')}`,
        {
          details: { rules: decision.rules, reasons: decision.reasons },
        },
      );
    const q: QuarantineRequest = {
      requestId: randomUUID(),
      action,
      artifactId,
      modelName: artifact.modelName,
      status: requestStatus(decision),
      reason,
      requestedBy: principal.id,
      policyDecision: decision,
      threshold: decision.decision === 'require_multisig' ? (decision.threshold ?? 3) : null,
      createdAt: this.d.clock.now(),
      appliedAt: null,
      recordSignature: null,
      effects: null,
    };
    await this.#store(q, principal);
    if (q.status === 'applied' && action === 'quarantine') await enforceQuarantine(this.d, q, principal);
    return (await this.get(artifactId))!;
  }

  /** One approval of a pending request; the one that completes the quorum applies it (and enforces a quarantine). */
  async approve(requestId: string, body: QuarantineApprovalBody, principal: Principal): Promise<QuarantineView> {
    const { applied, request } = await approveRequest(this.d, requestId, body, principal);
    if (applied && request.action === 'quarantine') await enforceQuarantine(this.d, request, principal);
    return (await this.get(request.artifactId))!;
  }

  /** The artifact a quarantine or release request is about (undefined: no such request). */
  async artifactOfRequest(requestId: string): Promise<string | undefined> {
    return (await findRequest(this.d.database.db, requestId))?.artifactId;
  }

  /**
   * Applied quarantines whose enforcement never finished (their process died after the
   * commit), enforced now once applied for `graceMs`: at a local start and on the local
   * `quarantine-enforcement` schedule. The request ids enforced.
   */
  async resumeEnforcement(graceMs: number): Promise<string[]> {
    return resumeEnforcement(this.d, graceMs);
  }

  /** The artifact's quarantine state and every request about it (undefined: no such artifact). */
  async get(artifactId: string): Promise<QuarantineView | undefined> {
    const artifact = await this.d.registry.get(artifactId);
    if (!artifact) return undefined;
    return quarantineView(this.d, artifact);
  }

  /** Refuses a quarantined artifact (409 `ARTIFACT_QUARANTINED`, field `artifactId`): for a download route, before it serves bytes. */
  async assertNotQuarantined(artifactId: string): Promise<void> {
    await this.d.reader.assertNotQuarantined(artifactId, 'downloaded');
  }

  #decide(artifact: ArtifactRecord, action: QuarantineAction, principal: Principal, quarantined: boolean): Promise<PolicyDecision> {
    return this.d.policy.decide({
      artifact: {
        artifactId: artifact.artifactId,
        modelName: artifact.modelName,
        version: String(artifact.version),
        manifestSignatureValid: true,
        signerId: artifact.signature.signerId,
        codeRef: artifact.manifest.codeRef,
        datasets: artifact.manifest.datasetRefs.map((r) => ({ id: r.id, version: r.version, checksum: r.checksum })),
        metrics: {},
      },
      targetEnv: 'any',
      requester: { id: principal.id, role: principal.role },
      production: null,
      canaryPassedRequestsPerArm: 0,
      canaryCompleted: false,
      servedBefore: false,
      evidenceProblems: [],
      action,
      quarantined,
    });
  }

  /** The request and its `quarantine.requested` event (and, applied at once, its signed record) in one transaction. */
  async #store(q: QuarantineRequest, principal: Principal): Promise<void> {
    try {
      await this.d.database.db.transaction().execute(async (tx) => {
        await insertRequest(tx, requestRow({ ...q, status: 'pending_multisig' }));
        const { requestId, action, artifactId, modelName, status, reason, policyDecision, threshold } = q;
        await this.d.audit.append(tx, {
          type: 'quarantine.requested',
          actor: principal.id,
          subject: `artifact:${artifactId}`,
          payload: {
            requestId,
            action,
            artifactId,
            modelName,
            status,
            reason,
            policyDecision,
            threshold,
            createdAt: q.createdAt.toISOString(),
          },
        });
        if (q.status === 'applied') await applyRequest(this.d, tx, q, q.createdAt, principal.id);
      });
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      const other = await pendingOf(this.d.database.db, q.artifactId);
      throw new AegisError(
        'CONFLICT',
        `quarantine request ${other?.requestId ?? '?'} (${other?.action ?? '?'}) of artifact ${q.artifactId} waits for approvals`,
        {
          field: 'artifactId',
          details: { requestId: other?.requestId },
        },
      );
    }
  }
}
