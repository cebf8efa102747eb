import * as z from 'zod';
import { JsonValue, LIMITS, ManifestInput, TrainingManifest } from '../../kernel/manifest.js';
import { DatasetChecksum, DatasetId, DatasetVersion, ModelName, Uuid } from '../../kernel/names.js';
import { TARGET_ENVS } from '../../kernel/policy.js';
import { KEY_PURPOSES, SIGNATURE_ALGS } from '../../kernel/signatures.js';
import { CanaryOverrides, PROMOTION_STATUSES } from '../../modules/promotion/service.js';
import { ROLES } from '../../kernel/identity.js';

/** Request and response schemas of every route: parsing in the handlers, documentation in /openapi.json. */

export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional(), requestId: z.string() }),
});

export const Pagination = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().max(200).optional(),
  })
  .strict();

export const SignatureRecordSchema = z
  .object({
    manifestSignatureId: z.string().min(1).max(100),
    signerId: z.string().min(1).max(100),
    alg: z.enum(SIGNATURE_ALGS),
    signature: z.base64().max(1024),
    ts: z.iso.datetime({ offset: true }),
  })
  .strict();

export const KeyRecordSchema = z.object({
  kid: z.string(),
  purpose: z.enum(KEY_PURPOSES),
  alg: z.enum(SIGNATURE_ALGS),
  publicKey: z.string().describe('base64 DER SubjectPublicKeyInfo'),
  backend: z.enum(['file', 'kms', 'external']),
  owner: z.string().nullable().optional(),
  notBefore: z.string(),
  notAfter: z.string().nullable(),
  revokedAt: z.string().nullable(),
});

export const UploadCreateBody = z
  .object({
    modelName: ModelName,
    size: z.number().int().positive().max(LIMITS.artifactBytes, `must be at most ${LIMITS.artifactBytes} bytes`),
  })
  .strict();
export const UploadCreateReply = z.object({
  uploadId: Uuid,
  method: z.literal('PUT'),
  url: z.string(),
  headers: z.record(z.string(), z.string()),
  expiresAt: z.string(),
});

export const RegisterBody = z.object({ uploadId: Uuid, manifest: ManifestInput }).strict();
export const IdempotencyKey = z.string().regex(/^[A-Za-z0-9._:-]{8,128}$/, 'must be 8-128 of A-Z a-z 0-9 . _ : -');
export const RegisterReply = z.object({
  artifactId: Uuid,
  modelName: z.string(),
  version: z.number().int(),
  sha256: z.string(),
  manifestSignatureId: z.string(),
  signerId: z.string(),
  replayed: z.boolean(),
});

export const ArtifactReply = z.object({
  artifactId: Uuid,
  modelName: z.string(),
  version: z.number().int(),
  sha256: z.string(),
  size: z.number().int(),
  storage: z.object({ key: z.string(), versionId: z.string(), manifestKey: z.string(), signatureKey: z.string() }),
  manifest: TrainingManifest,
  manifestSha256: z.string(),
  signature: SignatureRecordSchema,
  createdBy: z.string(),
  createdAt: z.string(),
});

export const ArtifactIdParams = z.object({ artifactId: Uuid }).strict();
export const ModelParams = z.object({ model: ModelName }).strict();
export const VersionParams = z.object({ model: ModelName, version: z.coerce.number().int().positive() }).strict();

export const ModelsReply = z.object({
  items: z.array(z.object({ name: z.string(), latestVersion: z.number().int(), createdAt: z.string() })),
  nextCursor: z.string().nullable(),
});
export const VersionsReply = z.object({ items: z.array(ArtifactReply), nextCursor: z.string().nullable() });

export const VerifyManifestBody = z
  .object({
    manifest: z.record(z.string(), JsonValue),
    signature: SignatureRecordSchema.optional(),
  })
  .strict();
export const VerificationReply = z.object({
  ok: z.boolean(),
  artifactId: z.string().nullable(),
  signerId: z.string().nullable(),
  checks: z.array(
    z.object({
      check: z.string(),
      ok: z.boolean(),
      reason: z.string().optional(),
      expected: z.union([z.string(), z.number()]).optional(),
      actual: z.union([z.string(), z.number()]).optional(),
    }),
  ),
});

export const KeysReply = z.object({ keys: z.array(KeyRecordSchema) });
export const KeysRotateBody = z
  .object({
    // approver keys are enrolled from their owners' machines, never generated here
    purpose: z.enum(['manifest', 'audit']),
    kmsKeyId: z.string().min(1).max(2048).optional(),
    revoke: z.boolean().default(false).describe('also revoke the previous key: its signatures stop verifying'),
  })
  .strict();
export const KeysRotateReply = z.object({ previous: KeyRecordSchema.nullable(), current: KeyRecordSchema });

export const TokenCreateBody = z
  .object({
    principal: z.string().regex(/^[A-Za-z0-9@._:-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 @ . _ : -'),
    role: z.enum(ROLES),
  })
  .strict();
export const TokenCreateReply = z.object({ token: z.string(), principal: z.string(), role: z.enum(ROLES) });

export const DatasetCreateBody = z
  .object({
    id: DatasetId,
    version: DatasetVersion,
    checksum: DatasetChecksum,
    uri: z.string().min(1).max(2048),
    schema: z.record(z.string(), JsonValue).optional(),
  })
  .strict();
export const DatasetReply = z.object({
  id: z.string(),
  version: z.string(),
  checksum: z.string(),
  uri: z.string(),
  schema: z.record(z.string(), z.unknown()).nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  replayed: z.boolean().optional(),
});
export const DatasetParams = z.object({ id: DatasetId, version: DatasetVersion }).strict();

const LineageDatasetSchema = z.object({
  id: z.string(),
  version: z.string(),
  checksum: z.string(),
  uri: z.string().nullable(),
  schema: z.record(z.string(), z.unknown()).nullable(),
});
export const LineageReply = z.object({
  artifact: z.object({
    artifactId: z.string(),
    modelName: z.string(),
    version: z.number().int(),
    sha256: z.string(),
    size: z.number().int(),
    createdAt: z.string(),
    createdBy: z.string(),
  }),
  manifest: z.object({ manifestSha256: z.string(), manifestSignatureId: z.string(), signerId: z.string() }),
  datasets: z.array(LineageDatasetSchema),
  code: z.object({ codeRef: z.string() }),
  container: z.object({ digest: z.string() }),
  promotions: z.array(
    z.object({
      promotionId: z.string(),
      targetEnv: z.string(),
      status: z.string(),
      createdAt: z.string(),
      appliedAt: z.string().nullable(),
    }),
  ),
  deployments: z.array(z.object({ env: z.string(), role: z.enum(['stable', 'canary']), percent: z.number() })),
  edges: z.array(z.object({ from: z.string(), to: z.string(), rel: z.string() })),
});
export const BundleReply = z.object({
  files: z.record(z.string(), z.string()).describe('file name → exact file text; write each byte for byte'),
});

const AuditEventSchema = z.object({
  seq: z.number().int(),
  eventId: z.string(),
  type: z.string(),
  actor: z.string(),
  subject: z.string(),
  payload: z.record(z.string(), z.unknown()),
  ts: z.string(),
  prevHash: z.string(),
  hash: z.string(),
  signature: z.string(),
  signerId: z.string(),
});
export const AuditListQuery = z
  .object({
    subject: z.string().min(1).max(300).optional(),
    type: z
      .string()
      .regex(/^[a-z]+(\.[a-z_]+)+$/, 'must look like artifact.registered')
      .optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z
      .string()
      .regex(/^\d{1,15}$/, 'must be a seq from nextCursor')
      .optional(),
  })
  .strict();
export const AuditListReply = z.object({ items: z.array(AuditEventSchema), nextCursor: z.string().nullable() });
export const AuditVerifyQuery = z
  .object({
    fromArchive: z.enum(['true', 'false']).default('false'),
    since: z.coerce.number().int().min(1).optional(),
  })
  .strict();
export const AuditVerifyReply = z.object({
  ok: z.boolean(),
  source: z.enum(['database', 'archive']),
  checked: z.number().int(),
  fromSeq: z.number().int().nullable(),
  headSeq: z.number().int().nullable(),
  headHash: z.string().nullable(),
  archivedThrough: z.number().int().nullable(),
  parity: z.enum(['ok', 'mismatch', 'not-checked']),
  checkpoint: z
    .object({ seq: z.number().int(), hash: z.string(), ts: z.string(), key: z.string() })
    .nullable()
    .describe('the newest signed head checkpoint (aegis.audit-head/v1) the database was checked against; null when none was written yet'),
  firstBreak: z.object({ seq: z.number().int(), problem: z.string(), detail: z.string() }).nullable(),
});
export const AuditArchiveReply = z.object({ segments: z.number().int(), events: z.number().int(), archivedThrough: z.number().int() });

export const KeyEnrollBody = z
  .object({
    kid: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 . _ -'),
    purpose: z.literal('approver'),
    publicKey: z.base64().max(200).describe('base64 DER SubjectPublicKeyInfo of an Ed25519 key'),
    owner: z.string().regex(/^[A-Za-z0-9@._:-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 @ . _ : -'),
    notAfter: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export const KidParams = z.object({ kid: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be a key id') }).strict();

const TargetEnvSchema = z.enum(TARGET_ENVS);
export const PromoteBody = z
  .object({
    targetEnv: TargetEnvSchema,
    canary: CanaryOverrides.optional(),
    reason: z.string().min(1).max(2000),
  })
  .strict();
export const RollbackBody = z
  .object({
    targetEnv: TargetEnvSchema,
    toArtifactId: Uuid,
    reason: z.string().min(1).max(2000),
    critical: z.boolean().default(false),
  })
  .strict();
export const PromotionParams = z.object({ promotionId: Uuid }).strict();
export const ApprovalBody = z
  .object({
    approverId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be a key id'),
    signature: z.base64().max(200),
    expiresAt: z.iso.datetime({ offset: true }),
  })
  .strict();
const PromotionSchema = z.object({
  promotionId: z.string(),
  kind: z.enum(['promote', 'rollback']),
  artifactId: z.string(),
  modelName: z.string(),
  targetEnv: z.string(),
  manifestSignatureId: z.string(),
  status: z.enum(PROMOTION_STATUSES),
  requestedBy: z.string(),
  reason: z.string(),
  canary: z.record(z.string(), z.unknown()),
  policyDecision: z.record(z.string(), z.unknown()),
  threshold: z.number().int().nullable(),
  approvals: z.array(
    z.object({
      approverId: z.string(),
      at: z.string(),
      expiresAt: z.string(),
      valid: z.boolean().optional().describe('pending promotions: whether the approval counts now (statement unexpired, key unrevoked)'),
      reason: z.string().optional(),
    }),
  ),
  createdAt: z.string(),
  expiresAt: z.string().nullable().describe('when a pending multisig promotion expires'),
  appliedAt: z.string().nullable(),
  recordSignature: z.record(z.string(), z.unknown()).nullable(),
  rollout: z.record(z.string(), z.unknown()).nullable(),
});
export const CancelBody = z.object({ reason: z.string().min(1).max(2000) }).strict();
export const PromotionReply = PromotionSchema.extend({
  trace: z.array(z.record(z.string(), z.unknown())).optional(),
  /** every judged canary window with its numbers (issue 10) */
  verdicts: z.array(z.record(z.string(), z.unknown())).optional(),
});
export const PromotionsReply = z.object({ items: z.array(PromotionSchema) });

export const HealthReply = z.object({ ok: z.boolean(), mode: z.string(), database: z.string(), version: z.string() });

/** Which schemas each route parses and replies with: used by its handler and by /openapi.json. */
export const ROUTE_SCHEMAS = {
  health: { response: HealthReply },
  openapi: {},
  keysList: { response: KeysReply },
  keysRotate: { body: KeysRotateBody, response: KeysRotateReply },
  uploadsCreate: { body: UploadCreateBody, response: UploadCreateReply },
  register: { body: RegisterBody, response: RegisterReply },
  modelsList: { query: Pagination, response: ModelsReply },
  versionsList: { params: ModelParams, query: Pagination, response: VersionsReply },
  versionGet: { params: VersionParams, response: ArtifactReply },
  artifactGet: { params: ArtifactIdParams, response: ArtifactReply },
  artifactValidate: { params: ArtifactIdParams, response: VerificationReply },
  verifyManifest: { body: VerifyManifestBody, response: VerificationReply },
  datasetsCreate: { body: DatasetCreateBody, response: DatasetReply },
  datasetGet: { params: DatasetParams, response: DatasetReply },
  lineageGet: { params: ArtifactIdParams, response: LineageReply },
  lineageBundle: { params: ArtifactIdParams, response: BundleReply },
  keysEnroll: { body: KeyEnrollBody, response: KeyRecordSchema },
  keysRevoke: { params: KidParams, response: KeyRecordSchema },
  promote: { params: ArtifactIdParams, body: PromoteBody, response: PromotionReply },
  promoteVersion: { params: VersionParams, body: PromoteBody, response: PromotionReply },
  rollback: { params: ModelParams, body: RollbackBody, response: PromotionReply },
  promotionsByArtifact: { params: ArtifactIdParams, response: PromotionsReply },
  promotionGet: { params: PromotionParams, response: PromotionReply },
  promotionApprove: { params: PromotionParams, body: ApprovalBody, response: PromotionReply },
  promotionCancel: { params: PromotionParams, body: CancelBody, response: PromotionReply },
  auditList: { query: AuditListQuery, response: AuditListReply },
  auditVerify: { query: AuditVerifyQuery, response: AuditVerifyReply },
  auditArchive: { response: AuditArchiveReply },
  tokensCreate: { body: TokenCreateBody, response: TokenCreateReply },
} as const;
