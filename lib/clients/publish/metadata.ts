/**
 * `metadata.json`: what `aegis publish` wrote beside a published folder, in canonical JSON —
 * the registered manifest and its signature record, enough to verify the folder offline.
 */
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import { canonicalJson } from '../../kernel/canonical.js';
import type { KeyRecord } from '../../kernel/signatures.js';
import { verifyManifest, type Check, type VerificationReport } from '../../kernel/verification.js';
import { SignatureRecordSchema, type ArtifactReply } from '../../platform/http/schemas.js';
import { METADATA_FILE, type ModelFolder, type PreparedArtifact } from './folders.js';

export const METADATA_FORMAT = 'aegis.publish-metadata/v1';

export const PublishMetadata = z
  .object({
    format: z.literal(METADATA_FORMAT),
    model: z.string(),
    /** the folder name: recorded, the registry's version number is `version` */
    label: z.string(),
    artifactId: z.string(),
    version: z.number().int(),
    /** the artifact's file name (a packed folder: `<name>.tar.gz`) and whether it was packed */
    artifact: z.string(),
    packed: z.boolean(),
    sha256: z.string(),
    size: z.number().int(),
    manifest: z.record(z.string(), z.unknown()),
    signature: SignatureRecordSchema,
    registeredAt: z.string(),
    registryUrl: z.string(),
  })
  .strict();
export type PublishMetadata = z.output<typeof PublishMetadata>;

export function metadataOf(folder: ModelFolder, artifact: PreparedArtifact, record: ArtifactReply, registryUrl: string): PublishMetadata {
  return {
    format: METADATA_FORMAT,
    model: folder.model,
    label: folder.label,
    artifactId: record.artifactId,
    version: record.version,
    artifact: artifact.name,
    packed: artifact.packed,
    sha256: record.sha256,
    size: record.size,
    manifest: record.manifest,
    signature: record.signature,
    registeredAt: record.createdAt,
    registryUrl,
  };
}

/** Writes `metadata.json` (canonical JSON) through a temporary file, so it is never half written. */
export async function writeMetadata(folder: ModelFolder, meta: PublishMetadata): Promise<void> {
  const file = join(folder.path, METADATA_FILE);
  await writeFile(`${file}.tmp`, `${canonicalJson(meta)}\n`);
  await rename(`${file}.tmp`, file);
}

/** Parses a folder's `metadata.json`; the problem names the field. */
export function parseMetadata(raw: Record<string, unknown>): { meta?: PublishMetadata; problem?: string } {
  const p = PublishMetadata.safeParse(raw);
  if (p.success) return { meta: p.data };
  const issue = p.error.issues[0]!;
  return { problem: `${METADATA_FILE}: ${issue.path.join('.') || '(the object)'}: ${issue.message}` };
}

/**
 * What no longer matches between the folder and its `metadata.json`: the folder it names, the
 * artifact's bytes, the manifest `manifest.json` stands for (the registered one without the
 * `artifactId` the registry chose, unless `manifest.json` names it). Empty: published as it is.
 */
export function driftOf(
  folder: ModelFolder,
  meta: PublishMetadata,
  artifact: PreparedArtifact,
  manifest: Record<string, unknown>,
): string[] {
  const out: string[] = [];
  if (meta.model !== folder.model || meta.label !== folder.label)
    out.push(`${METADATA_FILE} names ${meta.model}/${meta.label}, not this folder`);
  if (meta.sha256 !== artifact.sha256) out.push(`artifact sha256 ${artifact.sha256} differs from the published ${meta.sha256}`);
  if (meta.size !== artifact.size) out.push(`artifact size ${artifact.size} differs from the published ${meta.size}`);
  const { artifactId: _id, ...registered } = meta.manifest;
  const compared = 'artifactId' in manifest ? meta.manifest : registered;
  if (canonicalJson(compared) !== canonicalJson(manifest)) out.push('manifest.json differs from the published manifest');
  return out;
}

/**
 * The offline check of a published folder: the signed manifest against the local bytes and the
 * key ring (signature, signer window and revocation, provenance), plus the folder's own drift.
 */
export function verifyPublished(
  meta: PublishMetadata,
  artifact: PreparedArtifact,
  ring: readonly KeyRecord[],
  drift: string[],
): VerificationReport {
  const report = verifyManifest({
    manifest: meta.manifest,
    signature: meta.signature,
    key: ring.find((k) => k.kid === meta.signature.signerId),
    bytes: { sha256: artifact.sha256, size: artifact.size },
  });
  const checks: Check[] = [...report.checks, ...drift.map((reason): Check => ({ check: 'manifest-registered', ok: false, reason }))];
  if (report.artifactId !== null && report.artifactId !== meta.artifactId)
    checks.push({ check: 'manifest-registered', ok: false, reason: `manifest.artifactId ${report.artifactId} is not ${meta.artifactId}` });
  return { ...report, checks, ok: checks.every((c) => c.ok) };
}
