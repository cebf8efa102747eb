/** A registration's audit events: the manifest's signature and the artifact's record. */
import { manifestSha256 } from '../../kernel/manifest.js';
import type { AuditInput } from '../../platform/audit/log.js';
import type { Registration } from './domain.js';

/** A registration signed and with its sidecars stored: what the transaction commits (the version is taken there). */
export type SignedRegistration = Omit<Registration, 'version' | 'createdAt'> & { createdAt: Date };

/** The audit events of a registration: the manifest's signature and the artifact's record. */
export function registrationEvents(signed: SignedRegistration, version: number): AuditInput[] {
  const { manifest, signature, storage, createdBy } = signed;
  const artifactId = manifest.artifactId;
  const subject = `artifact:${artifactId}`;
  return [
    {
      type: 'manifest.signed',
      actor: createdBy,
      subject,
      payload: {
        manifestSignatureId: signature.manifestSignatureId,
        artifactId,
        manifestSha256: manifestSha256(manifest),
        signerId: signature.signerId,
        alg: signature.alg,
        ts: signature.ts,
      },
    },
    {
      type: 'artifact.registered',
      actor: createdBy,
      subject,
      payload: {
        artifactId,
        modelName: manifest.modelName,
        version,
        sha256: signed.sha256,
        size: signed.size,
        manifestSha256: manifestSha256(manifest),
        manifestSignatureId: signature.manifestSignatureId,
        storage,
        createdAt: signed.createdAt.toISOString(),
      },
    },
  ];
}
