/**
 * How the modules' records go on the wire: one function per record whose module type and wire
 * schema describe the same thing, so each reply is built in one place, field by field, and a
 * field a module adds to its record reaches no client until its schema (schemas.ts) names it.
 * The fields keep the records' order, so the JSON on the wire is byte for byte what it was.
 */
import type * as z from 'zod';
import type { CanaryJudgement } from '../../kernel/canary-judge.js';
import type { DatasetRecord } from '../../modules/datasets/service.js';
import type { TokenRecord } from '../../modules/tokens/domain.js';
import type { PromotionRecord, PromotionService } from '../../modules/promotion/service.js';
import type { ArtifactRecord, DownloadTicket, Page } from '../../modules/registry/service.js';
import type { CanaryVerdictView, TraceStep } from '../../modules/rollout/service.js';
import type { ServingService } from '../../modules/serving/service.js';
import type { Delivery, Subscription } from '../../modules/events/service.js';
import type {
  ArtifactReply,
  DatasetReply,
  DeliverySchema,
  DownloadReply,
  WebhookSchema,
  PromotionReply,
  PromotionsReply,
  TokenRecordSchema,
  VersionsReply,
} from './schemas.js';

type Wire<S extends z.ZodType> = z.input<S>;
type PromotionDetail = NonNullable<Awaited<ReturnType<PromotionService['get']>>>;

/** A download URL and the record its bytes are verified against. */
export function downloadReply(t: DownloadTicket): Wire<typeof DownloadReply> {
  return { url: t.url, expiresAt: t.expiresAt, artifact: artifactReply(t.artifact) };
}

export function artifactReply(r: ArtifactRecord): Wire<typeof ArtifactReply> {
  return {
    artifactId: r.artifactId,
    modelName: r.modelName,
    version: r.version,
    sha256: r.sha256,
    size: r.size,
    storage: {
      key: r.storage.key,
      versionId: r.storage.versionId,
      manifestKey: r.storage.manifestKey,
      signatureKey: r.storage.signatureKey,
    },
    manifest: r.manifest,
    manifestSha256: r.manifestSha256,
    signature: r.signature,
    createdBy: r.createdBy,
    createdAt: r.createdAt,
  };
}

export const versionsReply = (page: Page<ArtifactRecord>): Wire<typeof VersionsReply> => ({
  items: page.items.map(artifactReply),
  nextCursor: page.nextCursor,
});

export function datasetReply(d: DatasetRecord): Wire<typeof DatasetReply> {
  return {
    id: d.id,
    version: d.version,
    checksum: d.checksum,
    uri: d.uri,
    schema: d.schema,
    createdBy: d.createdBy,
    createdAt: d.createdAt,
  };
}

/** A promotion as its history lists it: the record without the rollout's trace and windows. */
export function promotionSummary(p: PromotionRecord): Wire<typeof PromotionsReply>['items'][number] {
  return {
    promotionId: p.promotionId,
    kind: p.kind,
    artifactId: p.artifactId,
    modelName: p.modelName,
    targetEnv: p.targetEnv,
    manifestSignatureId: p.manifestSignatureId,
    status: p.status,
    requestedBy: p.requestedBy,
    reason: p.reason,
    canary: p.canary,
    policyDecision: p.policyDecision,
    threshold: p.threshold,
    approvals: p.approvals,
    createdAt: p.createdAt,
    expiresAt: p.expiresAt,
    appliedAt: p.appliedAt,
    // stored as written by signPromotionRecord (lib/modules/promotion/signing.ts)
    recordSignature: p.recordSignature as Wire<typeof PromotionReply>['recordSignature'],
    rollout: p.rollout,
  };
}

/** A promotion with its judged canary windows and the rollout's steps (`GET /v1/promotions/{id}`, and every change to one). */
export function promotionReply(p: PromotionDetail): Wire<typeof PromotionReply> {
  return {
    ...promotionSummary(p),
    verdicts: p.verdicts.map(verdictReply),
    // the rollout's trace steps (lib/modules/rollout/view.ts)
    trace: p.trace as TraceStep[],
  };
}

function verdictReply(v: CanaryVerdictView): Wire<typeof PromotionReply>['verdicts'][number] {
  // stored as the canary judge wrote it (lib/kernel/canary-judge.ts); null from a scripted judge
  return { ...v, judgement: v.judgement as CanaryJudgement | null };
}

/** A token as listed, revoked or rotated out: never its secret nor its hash. */
export function tokenReply(t: TokenRecord): Wire<typeof TokenRecordSchema> {
  return {
    tokenId: t.tokenId,
    principal: t.principal,
    role: t.role,
    scope: t.scope,
    state: t.state,
    createdAt: t.createdAt,
    createdBy: t.createdBy,
    expiresAt: t.expiresAt,
    lastUsedAt: t.lastUsedAt,
    revokedAt: t.revokedAt,
    revokedBy: t.revokedBy,
  };
}

/**
 * `warnings` for a promote reply when serving cannot load the artifact (an unsupported format,
 * a failed check): the promotion stands, but nothing will answer predictions with it.
 */
export async function servingWarnings(
  c: { serving: Pick<ServingService, 'servable'> },
  artifactId: string,
): Promise<{ warnings?: string[] }> {
  const check = await c.serving.servable(artifactId);
  if (!check) return {};
  return { warnings: ['unchecked' in check ? check.unchecked : `not servable (${check.code}): ${check.reason}`] };
}

/**
 * A promotion request with its artifact's {@link servingWarnings}: the check runs beside the
 * request (it only reads, and a test load costs as much as the request), not after its commit
 * behind the rollout it starts; a refused request's check is awaited and dropped.
 */
export async function promotedWithWarnings<P>(
  c: { serving: Pick<ServingService, 'servable'> },
  artifactId: string,
  request: () => Promise<P>,
): Promise<{ promotion: P; warnings: { warnings?: string[] } }> {
  const [promotion, warnings] = await Promise.allSettled([request(), servingWarnings(c, artifactId)]);
  if (promotion.status === 'rejected') throw promotion.reason;
  if (warnings.status === 'rejected') throw warnings.reason;
  return { promotion: promotion.value, warnings: warnings.value };
}

export function webhookReply(s: Subscription): Wire<typeof WebhookSchema> {
  return {
    subscriptionId: s.subscriptionId,
    kind: s.kind,
    target: s.target,
    format: s.format,
    description: s.description,
    events: s.events,
    hasSecret: s.hasSecret,
    createdBy: s.createdBy,
    createdAt: s.createdAt.toISOString(),
    pending: s.pending,
    dead: s.dead,
    lastDeliveredAt: s.lastDeliveredAt?.toISOString() ?? null,
  };
}

export function deliveryReply(d: Delivery): Wire<typeof DeliverySchema> {
  return {
    seq: d.seq,
    eventType: d.eventType,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.nextAttemptAt.toISOString(),
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    createdAt: d.createdAt.toISOString(),
    finishedAt: d.finishedAt?.toISOString() ?? null,
  };
}
