import * as z from 'zod';
import { canonicalSha256 } from './canonical.js';
import { ContainerDigest, DatasetChecksum, DatasetId, DatasetVersion, ModelName, Sha256Hex, Uuid } from './names.js';

/** Upper bounds checked before any hashing or signing (a manifest is metadata, not data). */
export const LIMITS = {
  manifestBytes: 256 * 1024,
  requestBodyBytes: 512 * 1024,
  artifactBytes: 50 * 1024 ** 3,
  datasetRefs: 256,
} as const;

const JsonValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(JsonValue), z.record(z.string(), JsonValue)]),
);

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
    seed: z.number().int().nonnegative().max(2 ** 32 - 1),
    trainingCmd: z.string().min(1).max(4096),
    environment: z.record(z.string(), JsonValue),
    artifactSha256: Sha256Hex,
    artifactSize: z.number().int().nonnegative().max(LIMITS.artifactBytes),
    metrics: z.record(z.string(), JsonValue).default({}),
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
