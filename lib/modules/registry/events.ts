/** The audit payloads the registry writes (RegistryService). */
import * as z from 'zod';
import { TeamName } from '../../kernel/identity.js';
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
/** A model's team label set: at its first registration (`previous` null), or by an admin. */
export const ModelTeamSetPayload = z.object({ model: Text, team: TeamName.nullable(), previous: TeamName.nullable() });
/** A download URL handed out: who asked for which bytes, until when. */
export const DownloadIssuedPayload = z.object({
  artifactId: Text,
  modelName: Text,
  version: z.number().int().positive(),
  sha256: Sha,
  versionId: Text,
  expiresAt: Iso,
});
export type ModelTeamSet = z.infer<typeof ModelTeamSetPayload>;
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
  'model.team.set': { schema: ModelTeamSetPayload, restore: { restoredBy: 'the registry restore: the last label of each model' } },
  'artifact.download_issued': {
    schema: DownloadIssuedPayload,
    restore: { notRestored: 'a read changes no state: it stays in the restored audit log only' },
  },
};
