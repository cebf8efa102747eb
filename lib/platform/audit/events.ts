/**
 * Pure pieces of rebuilding the registry from storage: the audit payloads it reads back,
 * the key ring replayed from key events, and trust pinning. No I/O here.
 */
import * as z from 'zod';
import type { AuditEvent } from '../../kernel/audit-chain.js';
import { POLICY_DECISIONS } from '../../kernel/policy.js';
import { KEY_PURPOSES, SIGNATURE_ALGS, type KeyRecord } from '../../kernel/signatures.js';

const Iso = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not a timestamp');
const Sha = z.string().regex(/^[0-9a-f]{64}$/);
const Text = z.string().min(1);

// The payload shapes written by KeyService, DatasetService and RegistryService. Parsed, not
// cast: a chain that verifies can still carry a payload an older or buggy writer shaped
// differently, and that must become a reported problem rather than a crash or a bad row.
const KeyBody = z.object({
  kid: Text,
  purpose: z.enum(KEY_PURPOSES),
  alg: z.enum(SIGNATURE_ALGS),
  publicKey: Text,
  backend: z.enum(['file', 'kms', 'external']),
  notBefore: Iso,
});
export const KeyCreatedPayload = z.object({ key: KeyBody });
/** An approver's public key generated elsewhere: it may carry its own end and an owner. */
export const KeyEnrolledPayload = z.object({
  key: KeyBody.extend({ notAfter: Iso.nullable().default(null), owner: Text.nullable().default(null) }),
});
export const KeyRotatedPayload = z.object({ key: KeyBody, previous: Text, previousNotAfter: Iso });
export const KeyRevokedPayload = z.object({ kid: Text, revokedAt: Iso });
export const DatasetRegisteredPayload = z.object({
  id: Text,
  version: Text,
  checksum: Text,
  uri: Text,
  schema: z.record(z.string(), z.unknown()).nullable(),
  createdAt: Iso,
});
export const ManifestSignedPayload = z.object({
  manifestSignatureId: Text,
  artifactId: Text,
  manifestSha256: Sha,
  signerId: Text,
  alg: z.enum(SIGNATURE_ALGS),
  ts: Iso,
});
export const ArtifactRegisteredPayload = z.object({
  artifactId: Text,
  modelName: Text,
  version: z.number().int().positive(),
  sha256: Sha,
  size: z.number().int().nonnegative(),
  manifestSha256: Sha,
  manifestSignatureId: Text,
  storage: z.object({
    key: Text,
    versionId: Text,
    manifestKey: Text,
    manifestVersionId: Text,
    signatureKey: Text,
    signatureVersionId: Text,
  }),
  createdAt: Iso,
});
export type DatasetRegistered = z.infer<typeof DatasetRegisteredPayload>;
export type ManifestSigned = z.infer<typeof ManifestSignedPayload>;
export type ArtifactRegistered = z.infer<typeof ArtifactRegisteredPayload>;

// The promotion payloads written by PromotionService and RolloutService. Objects the rows
// store as JSON text (canary, policy decision, record signature) are loose: every key the
// writer recorded is kept, so the restored text is canonically the one the row held.
const Int = z.number().int();
const RecordSignature = z.looseObject({ signerId: Text, alg: z.enum(SIGNATURE_ALGS), ts: Iso, signature: Text });
const PromotionRecordBody = z.object({
  promotionId: Text,
  kind: z.enum(['promote', 'rollback']),
  artifactId: Text,
  targetEnv: Text,
  manifestSignatureId: Text,
});
const STATUS_OF_DECISION = { deny: 'denied', require_multisig: 'pending_multisig', allow: 'rolling_out' } as const;
export const PromotionRequestedPayload = PromotionRecordBody.extend({
  status: z.enum(['denied', 'pending_multisig', 'rolling_out']),
  policyDecision: z.looseObject({ decision: z.enum(POLICY_DECISIONS), rules: z.array(z.string()), reasons: z.array(z.string()) }),
  createdAt: Iso,
  reason: z.string(),
  modelName: Text,
  canary: z.looseObject({
    percent: Int.min(1).max(100),
    windowSeconds: Int.nonnegative(),
    steps: Int.nonnegative(),
    rollbackThreshold: z.number().min(0).max(1),
    maxInconclusive: Int.nonnegative(),
  }),
  threshold: Int.positive().nullable(),
  recordSignature: RecordSignature,
})
  .refine((p) => STATUS_OF_DECISION[p.policyDecision.decision] === p.status, 'status does not follow from the policy decision')
  .refine((p) => (p.threshold !== null) === (p.status === 'pending_multisig'), 'a threshold goes with pending_multisig, and only with it');
// `counted` (the approvers counting after this one) and `renews` were added with quorum-at-transition-time; older events lack them.
export const PromotionApprovalAcceptedPayload = z.object({
  approverId: Text,
  signature: Text,
  count: Int.positive(),
  threshold: Int.positive().nullable(),
  expiresAt: Iso,
  at: Iso,
  counted: z.array(Text).optional(),
  renews: z.boolean().optional(),
});
export const PromotionApprovedPayload = z.object({ approvers: z.array(Text).min(1), threshold: Int.positive().nullable() });
export const STEP_ACTIONS = ['start', 'evaluate', 'stepUp', 'promoteFully', 'rollback', 'fail'] as const;
export const PromotionStepPayload = z.object({
  action: z.enum(STEP_ACTIONS),
  stage: Int.min(-1),
  percent: Int.min(0).max(100),
  inconclusive: Int.nonnegative(),
  windowSeconds: Int.nonnegative(),
  route: z.strictObject({ canary_artifact_id: Text.optional(), canary_percent: Int.min(0).max(100).optional() }),
  verdict: z.string().optional(),
  detail: z.string().optional(),
  next: z.string().optional(),
  // the rollout state's stage timing and rollback reason, and the judged window (issue 10); absent in older events
  stageStartedAt: Iso.optional(),
  canaryStartedAt: Iso.optional(),
  reason: z.string().optional(),
  window: z
    .object({
      seq: Int.positive(),
      stage: Int.min(-1),
      percent: Int.min(0).max(100),
      from: Iso,
      to: Iso,
      verdict: z.enum(['pass', 'fail', 'inconclusive']),
      reason: z.string(),
      next: z.string(),
      requests: z.object({ stable: Int.nonnegative(), canary: Int.nonnegative() }),
      errors: z.object({ stable: Int.nonnegative(), canary: Int.nonnegative() }).nullable(),
      detail: z.string(),
      judgement: z.record(z.string(), z.unknown()).nullable(),
      judgedAt: Iso,
    })
    .optional(),
});
export const PROMOTION_END_EVENTS = {
  'promotion.applied': 'succeeded',
  'promotion.rolled_back': 'rolled_back',
  'promotion.failed': 'failed',
} as const;
export const PromotionEndedPayload = PromotionRecordBody.extend({
  status: z.enum(['succeeded', 'rolled_back', 'failed']),
  appliedAt: Iso.nullable(),
  recordSignature: RecordSignature,
  error: z.string().optional(),
}).refine((p) => (p.appliedAt !== null) === (p.status === 'succeeded'), 'appliedAt goes with succeeded, and only with it');
/** A pending multisig promotion cancelled (by its requester, an admin, or a critical rollback) or expired. */
export const PROMOTION_CLOSE_EVENTS = { 'promotion.cancelled': 'cancelled', 'promotion.expired': 'expired' } as const;
export const PromotionClosedPayload = z.object({
  promotionId: Text,
  kind: z.enum(['promote', 'rollback']),
  artifactId: Text,
  targetEnv: Text,
  status: z.enum(['cancelled', 'expired']),
  at: Iso,
});
export type PromotionRequested = z.infer<typeof PromotionRequestedPayload>;
export type PromotionStep = z.infer<typeof PromotionStepPayload>;
export type PromotionEnded = z.infer<typeof PromotionEndedPayload>;

/** A signature record as stored in a `signature-<id>.json` sidecar. */
export const SignatureSidecar = z.object({
  manifestSignatureId: Text,
  signerId: Text,
  alg: z.enum(SIGNATURE_ALGS),
  signature: Text,
  ts: Iso,
});

export interface ReplayedRing {
  keys: Map<string, KeyRecord>;
  /** seq of the event that introduced each kid */
  introducedAt: Map<string, number>;
  problems: { seq: number; detail: string }[];
}

/**
 * Replays `key.created` / `key.enrolled` / `key.rotated` / `key.revoked` in chain order into the key ring
 * the database held: windows close at `previousNotAfter`, a revocation keeps an earlier
 * `notAfter` (as KeyService.revoke does).
 */
export function replayKeyRing(events: readonly AuditEvent[]): ReplayedRing {
  const keys = new Map<string, KeyRecord>();
  const introducedAt = new Map<string, number>();
  const problems: ReplayedRing['problems'] = [];
  const add = (
    seq: number,
    k: z.infer<typeof KeyBody>,
    extra: Pick<KeyRecord, 'notAfter'> & { owner?: string | null } = { notAfter: null },
  ) => {
    if (keys.has(k.kid)) return problems.push({ seq, detail: `key ${k.kid} is created twice` });
    keys.set(k.kid, { ...k, ...extra, revokedAt: null });
    introducedAt.set(k.kid, seq);
  };
  for (const e of events) {
    if (e.type === 'key.created') {
      const p = KeyCreatedPayload.safeParse(e.payload);
      if (p.success) add(e.seq, p.data.key);
      else problems.push({ seq: e.seq, detail: `key.created payload: ${p.error.issues[0]?.message}` });
    } else if (e.type === 'key.enrolled') {
      const p = KeyEnrolledPayload.safeParse(e.payload);
      if (p.success) add(e.seq, p.data.key, { notAfter: p.data.key.notAfter, owner: p.data.key.owner });
      else problems.push({ seq: e.seq, detail: `key.enrolled payload: ${p.error.issues[0]?.message}` });
    } else if (e.type === 'key.rotated') {
      const p = KeyRotatedPayload.safeParse(e.payload);
      if (!p.success) {
        problems.push({ seq: e.seq, detail: `key.rotated payload: ${p.error.issues[0]?.message}` });
        continue;
      }
      const prev = keys.get(p.data.previous);
      if (prev) keys.set(prev.kid, { ...prev, notAfter: p.data.previousNotAfter });
      else problems.push({ seq: e.seq, detail: `key.rotated retires ${p.data.previous}, which no earlier event created` });
      add(e.seq, p.data.key);
    } else if (e.type === 'key.revoked') {
      const p = KeyRevokedPayload.safeParse(e.payload);
      const k = p.success ? keys.get(p.data.kid) : undefined;
      if (!p.success || !k) {
        problems.push({
          seq: e.seq,
          detail: p.success
            ? `key.revoked names ${p.data.kid}, which no earlier event created`
            : `key.revoked payload: ${p.error.issues[0]?.message}`,
        });
        continue;
      }
      keys.set(k.kid, { ...k, revokedAt: p.data.revokedAt, notAfter: k.notAfter ?? p.data.revokedAt });
    }
  }
  return { keys, introducedAt, problems };
}

/**
 * The same ring with revocations lifted. Rebuilding must reproduce what the registry held,
 * and the registry held artifacts and events signed by keys revoked later: they are checked
 * for a valid signature made inside the key's window, restored, and reported, and the
 * rebuilt registry keeps the revocation, so they fail verification there exactly as before.
 */
export function ignoringRevocation(ring: ReadonlyMap<string, KeyRecord>): Map<string, KeyRecord> {
  return new Map([...ring].map(([kid, k]) => [kid, { ...k, revokedAt: null }]));
}

export interface TrustReport {
  /** true when the archive's root key (and every key it also lists) matched `--trusted-keys` */
  pinned: boolean;
  /** the audit key whose self-signed `key.created` opens the chain */
  rootKid: string | null;
  /** keys from the archive the trusted ring does not list (trusted through the chain only) */
  unpinned: string[];
  /** keys the trusted ring lists with another public key, algorithm or purpose: fatal */
  mismatched: string[];
}

/**
 * Compares the replayed ring with a trusted one (the `GET /v1/keys` output kept out of
 * band). Without it the ring is self-certified by the chain's first event, which is only as
 * trustworthy as the bucket the archive was read from.
 */
export function checkTrust(
  ring: ReadonlyMap<string, KeyRecord>,
  rootKid: string | null,
  trusted: readonly KeyRecord[] | undefined,
): TrustReport {
  if (!trusted) return { pinned: false, rootKid, unpinned: [...ring.keys()], mismatched: [] };
  const byKid = new Map(trusted.map((k) => [k.kid, k]));
  const unpinned: string[] = [];
  const mismatched: string[] = [];
  for (const k of ring.values()) {
    const t = byKid.get(k.kid);
    if (!t) unpinned.push(k.kid);
    else if (t.publicKey !== k.publicKey || t.alg !== k.alg || t.purpose !== k.purpose) mismatched.push(k.kid);
  }
  const rootPinned = rootKid !== null && byKid.has(rootKid) && !mismatched.includes(rootKid);
  return { pinned: rootPinned && mismatched.length === 0, rootKid, unpinned, mismatched };
}

/** Accepts the `GET /v1/keys` reply (`{ keys: [...] }`) or a bare array of key records. */
export function parseTrustedKeys(raw: unknown): KeyRecord[] {
  const list = Array.isArray(raw) ? raw : (raw as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new Error('expected the GET /v1/keys reply or an array of keys');
  const rec = KeyBody.extend({ notAfter: Iso.nullable().default(null), revokedAt: Iso.nullable().default(null) });
  return list.map((k, i) => {
    const p = rec.safeParse(k);
    if (!p.success) throw new Error(`key ${i}: ${p.error.issues[0]?.path.join('.')} ${p.error.issues[0]?.message}`);
    return p.data;
  });
}
