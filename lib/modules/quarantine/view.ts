/** How quarantine reads: an artifact's state and every request about it, with approvals and what enforcing did. */
import type { ArtifactRecord } from '../registry/service.js';
import type { QuarantineDeps } from './deps.js';
import type { QuarantineEffect, QuarantineState, RecordSignature } from './domain.js';
import { approvalsOf, requestsOf } from './store.js';

export interface QuarantineView {
  artifactId: string;
  modelName: string;
  quarantined: boolean;
  /** the quarantine in force (null: none) */
  quarantine: QuarantineState | null;
  requests: {
    requestId: string;
    action: 'quarantine' | 'release';
    status: 'pending_multisig' | 'applied';
    reason: string;
    requestedBy: string;
    createdAt: string;
    appliedAt: string | null;
    threshold: number | null;
    policyDecision: { decision: string; rules: string[]; reasons: string[] };
    approvals: { approverId: string; expiresAt: string; at: string }[];
    recordSignature: RecordSignature | null;
    /** what enforcing an applied quarantine did: cancels, rollbacks, drained environments */
    effects: QuarantineEffect[] | null;
  }[];
}

export async function quarantineView(d: Pick<QuarantineDeps, 'database' | 'reader'>, artifact: ArtifactRecord): Promise<QuarantineView> {
  const db = d.database.db;
  const quarantine = await d.reader.stateOf(artifact.artifactId);
  const requests: QuarantineView['requests'] = [];
  for (const q of await requestsOf(db, artifact.artifactId)) {
    requests.push({
      requestId: q.requestId,
      action: q.action,
      status: q.status,
      reason: q.reason,
      requestedBy: q.requestedBy,
      createdAt: q.createdAt.toISOString(),
      appliedAt: q.appliedAt?.toISOString() ?? null,
      threshold: q.threshold,
      policyDecision: { decision: q.policyDecision.decision, rules: q.policyDecision.rules, reasons: q.policyDecision.reasons },
      approvals: (await approvalsOf(db, q.requestId)).map((a) => ({
        approverId: a.approverId,
        expiresAt: a.expiresAt,
        at: a.createdAt.toISOString(),
      })),
      recordSignature: q.recordSignature,
      effects: q.effects,
    });
  }
  return { artifactId: artifact.artifactId, modelName: artifact.modelName, quarantined: quarantine !== null, quarantine, requests };
}
