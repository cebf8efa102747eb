/** The audit payloads the registry writes (RegistryService). */
import * as z from 'zod';
import { SIGNATURE_ALGS } from '../../kernel/signatures.js';
import { Iso, Sha, Text, type EventCatalogue } from '../../platform/audit/catalogue.js';

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
export type ManifestSigned = z.infer<typeof ManifestSignedPayload>;
export type ArtifactRegistered = z.infer<typeof ArtifactRegisteredPayload>;

/** A signature record as stored in a `signature-<id>.json` sidecar beside the manifest. */
export const SignatureSidecar = z.object({
  manifestSignatureId: Text,
  signerId: Text,
  alg: z.enum(SIGNATURE_ALGS),
  signature: Text,
  ts: Iso,
});

const REBUILD = { restoredBy: 'the registry restore, once its objects verify (lib/modules/registry/restore.ts)' } as const;

export const REGISTRY_EVENTS: EventCatalogue = {
  'manifest.signed': { schema: ManifestSignedPayload, restore: REBUILD },
  'artifact.registered': { schema: ArtifactRegisteredPayload, restore: REBUILD },
};
