import type { Principal } from '../../kernel/identity.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { ObjectStore } from '../../platform/ports/object-store.js';
import type { ArtifactRecord } from './domain.js';

/** A download URL for one artifact's registered bytes, with what the caller needs to verify them. */
export interface DownloadTicket {
  artifact: ArtifactRecord;
  url: string;
  expiresAt: string;
}

/**
 * Issues a URL for the artifact's registered storage version (never whatever is latest at its
 * key) and records who asked, in one transaction: the URL is handed out only once the audit
 * event is committed.
 */
export async function issueDownload(
  d: { database: Database; store: ObjectStore; audit: AuditLog; clock: Clock; ttlSeconds: number },
  artifact: ArtifactRecord,
  principal: Principal,
): Promise<DownloadTicket> {
  const { key, versionId } = artifact.storage;
  const expiresAt = new Date(d.clock.now().getTime() + d.ttlSeconds * 1000).toISOString();
  const { url } = await d.store.createDownloadUrl(key, { versionId, expiresInSeconds: d.ttlSeconds });
  await d.database.db.transaction().execute(async (tx) => {
    await d.audit.append(tx, {
      type: 'artifact.download_issued',
      actor: principal.id,
      subject: `artifact:${artifact.artifactId}`,
      payload: {
        artifactId: artifact.artifactId,
        modelName: artifact.modelName,
        version: artifact.version,
        sha256: artifact.sha256,
        versionId,
        expiresAt,
      },
    });
  });
  return { artifact, url, expiresAt };
}
