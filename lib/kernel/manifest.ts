import * as z from 'zod';
import { canonicalJson, canonicalSha256 } from './canonical.js';
import { AegisError } from './errors.js';
import { checkJsonValue } from './json-shape.js';
import { ContainerDigest, DatasetChecksum, DatasetId, DatasetVersion, ModelName, Sha256Hex, Uuid } from './names.js';

/** Upper bounds checked before any hashing or signing (a manifest is metadata, not data). */
export const LIMITS = {
  manifestBytes: 256 * 1024,
  requestBodyBytes: 512 * 1024,
  artifactBytes: 50 * 1024 ** 3,
  /** an artifact registered in one request (`POST /v1/registry/artifacts`: its bytes in the JSON body, base64) */
  inlineArtifactBytes: 3 * 1024 ** 2,
  /**
   * That request's body: the bytes as base64 (4 MiB), the manifest and the rest of the JSON
   * (what {@link requestBodyBytes} allows); on AWS the whole event stays under Lambda's 6 MB.
   */
  inlineRequestBodyBytes: 4 * 1024 ** 2 + 512 * 1024,
  datasetRefs: 256,
  /** containers nested in any JSON document or field (request bodies, manifests, schemas) */
  jsonDepth: 64,
  /** canonical bytes of a dataset's free-form `schema` */
  datasetSchemaBytes: 64 * 1024,
} as const;

/**
 * A free-form JSON value (hyperparameters, environment, metrics, schemas): checked without
 * recursion, at most {@link LIMITS.jsonDepth} containers deep, so no input can overflow the stack.
 */
export const JsonValue = z
  .custom<unknown>((v) => checkJsonValue(v, LIMITS.jsonDepth).ok, {
    message: `must be JSON (finite numbers, plain objects) nested at most ${LIMITS.jsonDepth} deep`,
  })
  .meta({ description: `any JSON value (finite numbers, plain objects), nested at most ${LIMITS.jsonDepth} deep` });

/** Refuses a manifest whose canonical form exceeds {@link LIMITS.manifestBytes} (checked before hashing or signing). */
export function assertManifestSize(manifest: unknown, field = 'manifest'): void {
  const size = Buffer.byteLength(canonicalJson(manifest));
  if (size > LIMITS.manifestBytes) {
    throw new AegisError(
      'PAYLOAD_TOO_LARGE',
      `${field} is ${size} bytes as canonical JSON; manifests are limited to ${LIMITS.manifestBytes} bytes`,
      { field, details: { size, limit: LIMITS.manifestBytes } },
    );
  }
}

export const DatasetRef = z
  .object({
    id: DatasetId,
    version: DatasetVersion,
    checksum: DatasetChecksum,
    /** where the training run read it (`file:///…`, `s3://…`); reproduce reads it from there */
    uri: z.string().min(1).max(2048).optional(),
  })
  .strict();
export type DatasetRef = z.infer<typeof DatasetRef>;

/**
 * What an artifact was retrained from (`aegis retrain`): the parent artifact (same model; the
 * registry checks it exists) and, when a drift suggestion led to it, that suggestion's id.
 */
export const ManifestParent = z
  .object({
    artifactId: Uuid,
    suggestionId: z
      .string()
      .min(1, 'must not be empty')
      .max(128, 'must be at most 128 characters')
      .regex(/^[\x20-\x7e]*$/, 'must be printable ASCII')
      .optional(),
  })
  .strict();
export type ManifestParent = z.infer<typeof ManifestParent>;

/**
 * The training manifest as a client submits it. `artifactId` may be chosen by the client
 * (a UUID) or left for the registry to assign.
 */
export const ManifestInput = z
  .object({
    artifactId: Uuid.optional(),
    modelName: ModelName,
    codeRef: z.string().min(1).max(200),
    containerDigest: ContainerDigest,
    datasetRefs: z.array(DatasetRef).max(LIMITS.datasetRefs),
    hyperparams: z.record(z.string(), JsonValue),
    seed: z
      .number()
      .int()
      .nonnegative()
      .max(2 ** 32 - 1),
    trainingCmd: z.string().min(1).max(4096),
    environment: z.record(z.string(), JsonValue),
    artifactSha256: Sha256Hex,
    artifactSize: z.number().int().nonnegative().max(LIMITS.artifactBytes),
    metrics: z.record(z.string(), JsonValue).default({}),
    /** sha256 of the artifact's drift baseline (`baseline.json` at its root); absent in older manifests */
    baselineSha256: Sha256Hex.optional(),
    /** the artifact this one was retrained from (and the drift suggestion, if any); absent for a first training */
    parent: ManifestParent.optional(),
    createdAt: z.iso.datetime({ offset: true }),
  })
  .strict();
export type ManifestInput = z.input<typeof ManifestInput>;

/** The manifest as stored and signed: `artifactId` always present. */
export const TrainingManifest = ManifestInput.extend({ artifactId: Uuid });
export type TrainingManifest = z.infer<typeof TrainingManifest>;

export const manifestSha256 = (m: TrainingManifest): string => canonicalSha256(m);

/** Provenance fields an auditor needs to trace the artifact back; empty values fail validation. */
export function provenanceProblems(m: TrainingManifest): string[] {
  const problems: string[] = [];
  if (!m.codeRef.trim()) problems.push('codeRef is empty');
  if (!m.trainingCmd.trim()) problems.push('trainingCmd is empty');
  if (m.datasetRefs.length === 0) problems.push('datasetRefs is empty');
  return problems;
}
