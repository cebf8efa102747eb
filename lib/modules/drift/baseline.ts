/**
 * The drift baseline of a serving artifact: `baseline.json` at the root of its stored
 * `.tar.gz` (the registered version), streamed out in one pass that also hashes the whole
 * artifact. The artifact's bytes must match the registered sha256 and, when the manifest pins
 * one, the baseline's bytes its `baselineSha256`: a mismatch is refused, naming it. An artifact
 * without a baseline is a `no-baseline` result, not an error.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { BASELINE_FILE } from '../../kernel/artifact-baseline.js';
import { BaselineFormatError, readBaseline, type BaselineProfile } from '../../kernel/baseline-profile.js';
import { AegisError } from '../../kernel/errors.js';
import { parseJsonStrict } from '../../kernel/json.js';
import type { ObjectStore } from '../../platform/ports/object-store.js';
import type { ArtifactRecord } from '../registry/domain.js';

/** A `baseline.json` larger than this is not read. */
export const MAX_BASELINE_BYTES = 16 * 1024 * 1024;

export type ServingBaseline =
  { kind: 'baseline'; baseline: BaselineProfile; sha256: string } | { kind: 'no-baseline'; artifactId: string; reason: string };

/** What reading a baseline needs: the artifact's record (the registry service) and the registry's object store. */
export interface BaselineDeps {
  registry: { get(artifactId: string): Promise<ArtifactRecord | undefined> };
  store: Pick<ObjectStore, 'get'>;
}

/** Streams the artifact once: its sha256 and size, and the bytes of `baseline.json` at the root (each time it occurs). */
async function scan(stream: Readable): Promise<{ sha256: string; size: number; baselines: Buffer[] }> {
  const hash = createHash('sha256');
  let size = 0;
  const baselines: Buffer[] = [];
  const ex = extract();
  ex.on('entry', (header, entry, next) => {
    const name = header.name.replace(/^(\.\/)+/, '');
    if (header.type !== 'file' || name !== BASELINE_FILE) {
      entry.on('end', next).resume();
      return;
    }
    const parts: Buffer[] = [];
    let n = 0;
    entry.on('data', (c: unknown) => {
      if (!Buffer.isBuffer(c)) return;
      n += c.length;
      if (n <= MAX_BASELINE_BYTES) parts.push(c);
    });
    entry.on('end', () => {
      if (n > MAX_BASELINE_BYTES) ex.destroy(new Error(`${BASELINE_FILE} is larger than ${MAX_BASELINE_BYTES} bytes`));
      else baselines.push(Buffer.concat(parts));
      next();
    });
  });
  async function* hashed(source: AsyncIterable<unknown>) {
    for await (const c of source) {
      const chunk = c as Buffer;
      hash.update(chunk);
      size += chunk.length;
      yield chunk;
    }
  }
  await pipeline(stream, hashed, createGunzip(), ex);
  return { sha256: hash.digest('hex'), size, baselines };
}

const mismatch = (field: string, message: string, details: Record<string, unknown>) =>
  new AegisError('SHA256_MISMATCH', message, { field, details });

/**
 * The baseline the artifact was trained with, read as v2 (a v1 file converted). Throws
 * NOT_FOUND for an unknown artifact, SHA256_MISMATCH naming `artifact` or
 * `manifest.baselineSha256`, VALIDATION_FAILED naming the baseline's bad field.
 */
export async function servingBaseline(d: BaselineDeps, artifactId: string): Promise<ServingBaseline> {
  const record = await d.registry.get(artifactId);
  if (!record) throw new AegisError('NOT_FOUND', `no artifact ${artifactId}`, { field: 'artifactId' });
  let found: Awaited<ReturnType<typeof scan>>;
  try {
    found = await scan(await d.store.get(record.storage.key, { versionId: record.storage.versionId }));
  } catch (e) {
    if (e instanceof AegisError) throw e;
    const reason = `the artifact is not a readable .tar.gz: ${(e as Error).message}`;
    const pin = record.manifest.baselineSha256;
    if (pin !== undefined)
      throw mismatch('manifest.baselineSha256', `the manifest pins baselineSha256 ${pin} but ${reason}`, { expected: pin });
    return { kind: 'no-baseline', artifactId, reason };
  }
  if (found.sha256 !== record.sha256)
    throw mismatch('artifact', `the stored bytes of ${artifactId} differ from the registered sha256`, {
      expected: record.sha256,
      actual: found.sha256,
    });
  const pinned = record.manifest.baselineSha256;
  if (found.baselines.length > 1)
    throw new AegisError('VALIDATION_FAILED', `the artifact holds ${BASELINE_FILE} ${found.baselines.length} times`, {
      field: BASELINE_FILE,
    });
  const bytes = found.baselines[0];
  if (!bytes) {
    if (pinned !== undefined)
      throw mismatch('manifest.baselineSha256', `the manifest pins baselineSha256 ${pinned} but the artifact has no ${BASELINE_FILE}`, {
        expected: pinned,
      });
    return { kind: 'no-baseline', artifactId, reason: `the artifact has no ${BASELINE_FILE} at its root` };
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (pinned !== undefined && pinned !== sha256)
    throw mismatch('manifest.baselineSha256', `the manifest pins baselineSha256 ${pinned} but ${BASELINE_FILE} has ${sha256}`, {
      expected: pinned,
      actual: sha256,
    });
  try {
    return { kind: 'baseline', baseline: readBaseline(parseJsonStrict(bytes.toString('utf8'))), sha256 };
  } catch (e) {
    const field = e instanceof BaselineFormatError ? `${BASELINE_FILE}:${e.field}` : BASELINE_FILE;
    throw new AegisError('VALIDATION_FAILED', `${BASELINE_FILE} of ${artifactId}: ${(e as Error).message}`, { field, cause: e });
  }
}
