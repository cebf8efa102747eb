/**
 * Many versions of one model, or many models, straight into the database (the console's
 * pagination suites and the console bench): copies of a registered version's rows, each with its
 * own artifact id, sha256, signature id and metrics. The copies are not signed (their manifests
 * changed): they serve listing, not verification.
 */
import { createHash, randomUUID } from 'node:crypto';
import { canonicalJson } from '../../lib/kernel/canonical.js';
import { manifestSha256, type TrainingManifest } from '../../lib/kernel/manifest.js';
import type { Database } from '../../lib/platform/ports/database.js';

interface Copy {
  model: string;
  version: number;
}

/** Inserts copies of `model`'s version 1 (artifact and signature rows) as `copies`, `chunk` rows a statement. */
async function insertCopies(database: Database, model: string, copies: Copy[], chunk: number): Promise<void> {
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
  for (let start = 0; start < copies.length; start += chunk) {
    const rows = copies.slice(start, start + chunk).map((c) => {
      const artifactId = randomUUID();
      // (model, sha256) is unique: each copy stands for other bytes
      const sha256 = createHash('sha256').update(`${base.sha256}:${c.model}:${c.version}`).digest('hex');
      const metrics = { auc: 0.5 + c.version / 4000 };
      const manifest = {
        ...(JSON.parse(base.manifest) as TrainingManifest),
        modelName: c.model,
        artifactId,
        artifactSha256: sha256,
        metrics,
      };
      return { ...c, artifactId, sha256, manifest, signatureId: `${sig.manifest_signature_id}-${c.model}-${c.version}` };
    });
    await db
      .insertInto('artifacts')
      .values(
        rows.map((r) => ({
          ...base,
          size: Number(base.size),
          created_at: new Date(base.created_at),
          artifact_id: r.artifactId,
          model_name: r.model,
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
}

/** Adds versions 2..`to` of `model` (its version 1 registered through the API), `chunk` rows a statement. */
export async function seedVersions(database: Database, model: string, to: number, chunk = 250): Promise<void> {
  const copies = Array.from({ length: Math.max(0, to - 1) }, (_, i) => ({ model, version: i + 2 }));
  await insertCopies(database, model, copies, chunk);
  await database.db.updateTable('models').set({ latest_version: to }).where('name', '=', model).execute();
}

/**
 * Adds `count` models `<prefix>-0001`… (numbered to sort by name), each with one version: a copy
 * of `model`'s version 1 (registered through the API). Returns their names.
 */
export async function seedModels(database: Database, model: string, prefix: string, count: number, chunk = 250): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(4, '0')}`);
  const row = await database.db.selectFrom('models').selectAll().where('name', '=', model).executeTakeFirstOrThrow();
  for (let start = 0; start < names.length; start += chunk)
    await database.db
      .insertInto('models')
      .values(names.slice(start, start + chunk).map((name) => ({ ...row, created_at: new Date(row.created_at), name, latest_version: 1 })))
      .execute();
  await insertCopies(
    database,
    model,
    names.map((name) => ({ model: name, version: 1 })),
    chunk,
  );
  return names;
}
