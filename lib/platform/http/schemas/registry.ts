import * as z from 'zod';
import { JsonValue, LIMITS, ManifestInput, TrainingManifest } from '../../../kernel/manifest.js';
import { TeamName } from '../../../kernel/identity.js';
import { ModelName, Sha256Hex, Uuid } from '../../../kernel/names.js';
import { SIGNATURE_ALGS } from '../../../kernel/signatures.js';
import { MULTIPART_LIMITS } from '../../ports/object-store.js';
import { TARGET_ENVS } from '../../../kernel/policy.js';

/** The registry's routes: uploads, registration, models and versions, artifacts and their verification. */

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

export const UploadCreateBody = z
  .object({
    modelName: ModelName,
    size: z.number().int().positive().max(LIMITS.artifactBytes, `must be at most ${LIMITS.artifactBytes} bytes`),
    /** the team the registration will give a new model: lets a team-scoped caller upload for it */
    team: TeamName.optional(),
    /** hex sha256 of the bytes: the upload URL then accepts only these bytes (S3 checks the checksum it signs) */
    sha256: Sha256Hex.optional(),
    /** a multipart upload (required over 5 GiB, a single PUT's limit on S3): parts are asked for at …/uploads/{uploadId}/parts */
    multipart: z.boolean().optional(),
  })
  .strict();
/** A single upload: one PUT of the whole artifact to `url`, sending `headers`, before `expiresAt`. */
export const SingleUploadReply = z.object({
  uploadId: Uuid,
  method: z.literal('PUT'),
  url: z.string(),
  headers: z.record(z.string(), z.string()),
  expiresAt: z.string(),
});
/** How a multipart upload's bytes are cut: parts of `partSize` bytes (the last one shorter), numbered 1..`partCount`. */
const MultipartPlanFields = { partSize: z.number().int().positive(), partCount: z.number().int().positive() };
/** A multipart upload: its plan, and until when it may be registered (part URLs are asked for until then). */
export const MultipartUploadReply = z.object({ uploadId: Uuid, multipart: z.literal(true), ...MultipartPlanFields, expiresAt: z.string() });
export const UploadCreateReply = z.union([SingleUploadReply, MultipartUploadReply]);
export type UploadCreateReply = z.output<typeof UploadCreateReply>;
export type SingleUploadReply = z.output<typeof SingleUploadReply>;
export type MultipartUploadReply = z.output<typeof MultipartUploadReply>;

export const UploadIdParams = z.object({ uploadId: Uuid }).strict();
/** The parts a client is about to send, each with its size and hex sha256 (the URL takes only those bytes); none: only what was received. */
export const UploadPartsBody = z
  .object({
    parts: z
      .array(
        z
          .object({
            partNumber: z.number().int().min(1).max(MULTIPART_LIMITS.maxParts),
            size: z.number().int().positive().max(MULTIPART_LIMITS.maxPartBytes),
            sha256: Sha256Hex,
          })
          .strict(),
      )
      .max(1000, 'ask for at most 1000 parts at a time')
      .refine((ps) => new Set(ps.map((p) => p.partNumber)).size === ps.length, 'each partNumber at most once'),
  })
  .strict();
const UploadedPartReply = z.object({ partNumber: z.number().int(), size: z.number().int(), sha256: z.string().optional() });
export const UploadPartsReply = z.object({
  ...MultipartPlanFields,
  /** the parts already received (a resumed client need not send them again) */
  uploaded: z.array(UploadedPartReply),
  /** a URL for each asked part: PUT exactly its bytes there, sending `headers` */
  parts: z.array(z.object({ partNumber: z.number().int(), url: z.string(), headers: z.record(z.string(), z.string()) })),
});
export type UploadPartsReply = z.output<typeof UploadPartsReply>;

/** `team`: the model's team label, set when this registration creates the model (not part of the signed manifest). */
export const RegisterBody = z.object({ uploadId: Uuid, manifest: ManifestInput, team: TeamName.optional() }).strict();
/** Base64 characters of the largest artifact registered in one request. */
const INLINE_BASE64_CHARS = Math.ceil(LIMITS.inlineArtifactBytes / 3) * 4;
/**
 * An artifact registered in one request: its bytes (base64, standard alphabet, padded) beside its
 * manifest. `team` as in {@link RegisterBody}.
 */
export const RegisterInlineBody = z
  .object({
    manifest: ManifestInput,
    team: TeamName.optional(),
    artifact: z
      .base64('must be base64 (standard alphabet, padded)')
      .max(
        INLINE_BASE64_CHARS,
        `must be at most ${LIMITS.inlineArtifactBytes} bytes (${INLINE_BASE64_CHARS} base64 characters): larger artifacts go through POST /v1/registry/uploads`,
      )
      .meta({ description: `the artifact's bytes, base64; at most ${LIMITS.inlineArtifactBytes} bytes decoded` }),
  })
  .strict();
export const ModelTeamBody = z.object({ team: TeamName.nullable() }).strict();
export const ModelTeamReply = z.object({ name: z.string(), team: z.string().nullable(), previous: z.string().nullable() });
export type ModelTeamReply = z.output<typeof ModelTeamReply>;
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
export type RegisterReply = z.output<typeof RegisterReply>;
/** 202: the upload is larger than `AEGIS_REGISTER_ASYNC_BYTES`; poll GET /v1/registry/registrations/{registrationId}. */
export const RegisterPendingReply = z.object({ registrationId: Uuid, status: z.literal('verifying'), totalBytes: z.number().int() });
export type RegisterPendingReply = z.output<typeof RegisterPendingReply>;
export const RegisterOrPendingReply = z.union([RegisterReply, RegisterPendingReply]);
export const RegistrationIdParams = z.object({ registrationId: Uuid }).strict();
/** How far an asynchronous registration got; once registered, `result` is what the synchronous path answers. */
export const RegistrationStatusReply = z.object({
  registrationId: Uuid,
  status: z.enum(['verifying', 'registered', 'failed']),
  bytesHashed: z.number().int(),
  totalBytes: z.number().int(),
  artifactId: Uuid.optional(),
  version: z.number().int().optional(),
  result: RegisterReply.optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type RegistrationStatusReply = z.output<typeof RegistrationStatusReply>;

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
export type ArtifactReply = z.output<typeof ArtifactReply>;

/** A short-lived download URL, with the record (manifest, signature) the bytes are verified against. */
export const DownloadReply = z.object({ url: z.string(), expiresAt: z.string(), artifact: ArtifactReply });
export type DownloadReply = z.output<typeof DownloadReply>;

export const EnvParams = z.object({ model: ModelName, env: z.enum(TARGET_ENVS) }).strict();
export const EnvDownloadQuery = z.object({ variant: z.enum(['stable', 'canary']).default('stable') }).strict();

export const ArtifactIdParams = z.object({ artifactId: Uuid }).strict();
export const ModelParams = z.object({ model: ModelName }).strict();
/** versions are int4 in the database: a larger one names no version (400, not a database error) */
export const VersionParams = z
  .object({ model: ModelName, version: z.coerce.number().int().positive().max(2_147_483_647, 'must be at most 2147483647') })
  .strict();

/** `GET /v1/registry/models`: a page, optionally only the models whose name contains `q` (any case). */
export const ModelsQuery = Pagination.extend({
  q: z
    .string()
    .max(128, 'must be at most 128 characters')
    .regex(/^[A-Za-z0-9._-]+$/, 'must be letters, digits, ".", "_" or "-" (a part of a model name)')
    .optional()
    .describe('only the models whose name contains this (case-insensitive)'),
}).strict();

export const ModelEnvironment = z.object({
  env: z.string(),
  variant: z.enum(['stable', 'canary', 'shadow']),
  artifactId: z.string(),
  version: z.number().int().nullable().describe('the version of the artifact (null: its record is gone)'),
  traffic: z.number().describe('percent of the requests it answers (shadow: the percent mirrored to it, answering no caller)'),
  promotionId: z.string().nullable().describe('the promotion that set the route'),
});
export const ModelsReply = z.object({
  items: z.array(
    z.object({
      name: z.string(),
      latestVersion: z.number().int(),
      team: z.string().nullable(),
      createdAt: z.string(),
      environments: z.array(ModelEnvironment).describe('what serves the model now, per environment and variant'),
    }),
  ),
  nextCursor: z.string().nullable(),
});
export type ModelsReply = z.output<typeof ModelsReply>;
export const VersionsReply = z.object({ items: z.array(ArtifactReply), nextCursor: z.string().nullable() });
export type VersionsReply = z.output<typeof VersionsReply>;

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
  quarantined: z
    .object({ requestId: z.string(), reason: z.string(), quarantinedBy: z.string(), quarantinedAt: z.string() })
    .optional()
    .describe('the artifact is quarantined: ok is false'),
});
export type VerificationReply = z.output<typeof VerificationReply>;
