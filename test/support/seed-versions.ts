/**
 * Many versions of one model straight into the database (the console's pagination suites and
 * the bench): copies of a registered version's rows, each with its own artifact id, version,
 * signature id and metrics. The copies are not signed (their manifests changed): they serve
 * listing, not verification.
 */
import { createHash, randomUUID } from 'node:crypto';
import { canonicalJson } from '../../lib/kernel/canonical.js';
import { manifestSha256, type TrainingManifest } from '../../lib/kernel/manifest.js';
import type { Database } from '../../lib/platform/ports/database.js';

/** Adds versions 2..`to` of `model` (its version 1 registered through the API), `chunk` rows a statement. */
export async function seedVersions(database: Database, model: string, to: number, chunk = 250): Promise<void> {
  const db = database.db;
  const base = await db
    .selectFrom('artifacts')
    .selectAll()
    .where('model_name', '=', model)
    .where('version', '=', 1)
    .executeTakeFirstOrThrow();
  const sig = await db
    .selectFrom('manifest_signatures')
    .selectAll()
    .where('manifest_signature_id', '=', base.manifest_signature_id)
    .executeTakeFirstOrThrow();
  for (let start = 2; start <= to; start += chunk) {
    const versions = Array.from({ length: Math.min(chunk, to - start + 1) }, (_, i) => start + i);
    const rows = versions.map((version) => {
      const artifactId = randomUUID();
      // (model, sha256) is unique: each copy stands for other bytes
      const sha256 = createHash('sha256').update(`${base.sha256}:${version}`).digest('hex');
      const metrics = { auc: 0.5 + version / 4000 };
      const manifest = { ...(JSON.parse(base.manifest) as TrainingManifest), artifactId, artifactSha256: sha256, metrics };
      return { version, artifactId, sha256, manifest, signatureId: `${sig.manifest_signature_id}-${version}` };
    });
    await db
      .insertInto('artifacts')
      .values(
        rows.map((r) => ({
          ...base,
          size: Number(base.size),
          created_at: new Date(base.created_at),
          artifact_id: r.artifactId,
          version: r.version,
          sha256: r.sha256,
          manifest: canonicalJson(r.manifest),
          manifest_sha256: manifestSha256(r.manifest),
          manifest_signature_id: r.signatureId,
        })),
      )
      .execute();
    await db
      .insertInto('manifest_signatures')
      .values(rows.map((r) => ({ ...sig, ts: new Date(sig.ts), manifest_signature_id: r.signatureId, artifact_id: r.artifactId })))
      .execute();
  }
  await db.updateTable('models').set({ latest_version: to }).where('name', '=', model).execute();
}
