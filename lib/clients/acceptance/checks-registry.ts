/**
 * The acceptance checks against a registry, through its public API as any client: the drift
 * sample (`aegis drift sample`'s code: trains, registers, promotes, serves, detects), then
 * manifest verification of its artifact, its promotion through the policy, and the audit chain.
 */
import type { AegisClient } from '../http/client.js';
import { DRIFT_SAMPLE_DEFAULTS, runDriftSample } from '../cli/drift-sample.js';
import type { Reporter } from '../training/record.js';
import type { AuditArchiveReply, AuditVerifyReply, PromotionReply, VerificationReply } from '../../platform/http/schemas.js';
import type { Check } from './report.js';

export interface RegistryContext {
  api: AegisClient;
  say: Reporter;
  /** the training data of the sample (test/data/sample of the checkout) */
  data: string;
  /** `aegis drift sample --flush-wait` for this registry: longer than its serving holds a segment (default 12 s, for 10 s) */
  flushWait?: string;
  /** what the drift sample made, for the checks after it */
  sample?: { artifactId: string; promotionId: string };
}

const NO_CONTAINER = `sha256:${'0'.repeat(64)}`;
const enc = encodeURIComponent;

/** The sample artifact and promotion, or the reason the checks that need them cannot run. */
function sampleOf(ctx: RegistryContext): { artifactId: string; promotionId: string } {
  if (!ctx.sample) throw new Error('no sample artifact: the drift-sample check did not register one');
  return ctx.sample;
}

export const REGISTRY_CHECKS: Check<RegistryContext>[] = [
  {
    id: 'drift-sample',
    title: 'the drift sample raising a suggestion',
    async run(ctx) {
      const model = `acceptance-drift-${Date.now().toString(36)}`;
      const { result } = await runDriftSample(ctx.api, ctx.say, {
        ...DRIFT_SAMPLE_DEFAULTS,
        ...(ctx.flushWait !== undefined && { flushWait: ctx.flushWait }),
        model,
        data: ctx.data,
        containerDigest: NO_CONTAINER,
      });
      ctx.sample = { artifactId: result.artifactId, promotionId: result.promotionId };
      const reports = result.windows.map((w) => (w as { name: string; report: { reportId?: string } | null }).report?.reportId ?? 'none');
      return {
        ok: result.ok,
        detail: result.ok ? `only the drifted window raised a suggestion (${result.suggestion?.suggestionId})` : result.problems.join('; '),
        evidence: {
          ids: {
            model,
            artifactId: result.artifactId,
            promotionId: result.promotionId,
            baselineReportId: reports[0] ?? 'none',
            driftedReportId: reports[1] ?? 'none',
            suggestionId: result.suggestion?.suggestionId ?? 'none',
          },
          hashes: { artifactSha256: result.artifactSha256 },
        },
      };
    },
  },
  {
    id: 'manifest-verification',
    title: 'manifest verification of the sample artifact',
    async run(ctx) {
      const { artifactId } = sampleOf(ctx);
      const r = await ctx.api.request<VerificationReply>('GET', `/v1/artifacts/${enc(artifactId)}/validate`);
      const failed = r.checks.filter((c) => !c.ok);
      return {
        ok: r.ok && failed.length === 0,
        detail: r.ok
          ? `${r.checks.length} checks hold (stored bytes, signature, signer ${r.signerId})`
          : failed.map((c) => `${c.check}: ${c.reason ?? 'failed'}`).join('; '),
        evidence: {
          ids: { artifactId, signerId: r.signerId ?? 'none' },
          checks: r.checks.map((c) => `${c.check}:${c.ok ? 'ok' : 'FAIL'}`),
        },
      };
    },
  },
  {
    id: 'promotion-policy',
    title: 'promotion end to end through the policy',
    async run(ctx) {
      const { promotionId } = sampleOf(ctx);
      const p = await ctx.api.request<PromotionReply>('GET', `/v1/promotions/${enc(promotionId)}`);
      const ok = p.status === 'succeeded' && p.policyDecision.decision === 'allow';
      return {
        ok,
        detail: `promotion to ${p.targetEnv} ${p.status}; policy ${p.policyDecision.decision} (${p.policyDecision.rules.join(', ') || 'no rule named'})`,
        evidence: {
          ids: { promotionId, artifactId: p.artifactId, manifestSignatureId: p.manifestSignatureId },
          policy: { decision: p.policyDecision.decision, rules: p.policyDecision.rules, engine: p.policyDecision.engine ?? null },
        },
      };
    },
  },
  {
    id: 'audit-chain',
    title: 'audit-chain verification over the sample artifacts and promotions',
    async run(ctx) {
      const archived = await ctx.api.request<AuditArchiveReply>('POST', '/v1/audit/archive');
      const results = [];
      for (const fromArchive of [false, true])
        results.push(await ctx.api.request<AuditVerifyReply>('GET', `/v1/audit/verify?fromArchive=${fromArchive}`));
      const [db, archive] = results as [AuditVerifyReply, AuditVerifyReply];
      const broken = results.filter((r) => !r.ok).map((r) => `${r.source}: seq ${r.firstBreak?.seq} ${r.firstBreak?.problem}`);
      return {
        ok: broken.length === 0,
        detail: broken.length
          ? broken.join('; ')
          : `${db.checked} events verified in the database, ${archive.checked} in the archive (through seq ${archived.archivedThrough}); parity ${db.parity}`,
        evidence: { ids: { headSeq: String(db.headSeq) }, hashes: { headHash: db.headHash ?? 'none' } },
      };
    },
  },
];
