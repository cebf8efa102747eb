import * as z from 'zod';
import { JsonValue } from '../../../kernel/manifest.js';
import { DatasetChecksum, DatasetId, DatasetVersion } from '../../../kernel/names.js';

/** The dataset registry's routes, and lineage (artifact → manifest → datasets, code, container). */

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
});
export type DatasetReply = z.output<typeof DatasetReply>;
export const DatasetCreateReply = DatasetReply.extend({
  replayed: z.boolean().describe('true when the same record was registered before (200)'),
});
export type DatasetCreateReply = z.output<typeof DatasetCreateReply>;
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
  deployments: z.array(z.object({ env: z.string(), role: z.enum(['stable', 'canary', 'shadow']), percent: z.number() })),
  quarantine: z
    .object({ requestId: z.string(), reason: z.string(), quarantinedBy: z.string(), quarantinedAt: z.string() })
    .optional()
    .describe('present when the artifact is quarantined'),
  served: z
    .array(z.object({ env: z.string(), manifestSignatureId: z.string(), format: z.string(), verifiedAt: z.string() }))
    .optional()
    .describe('present once serving verified and loaded the artifact: where, with which signature, when (serving.verified)'),
  parent: z
    .object({ artifactId: z.string(), suggestionId: z.string().optional() })
    .optional()
    .describe('present when the artifact was retrained: the parent artifact (edge retrained-from) and the drift suggestion, if any'),
  edges: z.array(z.object({ from: z.string(), to: z.string(), rel: z.string() })),
});
export type LineageReply = z.output<typeof LineageReply>;
export const BundleReply = z.object({
  files: z.record(z.string(), z.string()).describe('file name → exact file text; write each byte for byte'),
});
export type BundleReply = z.output<typeof BundleReply>;
