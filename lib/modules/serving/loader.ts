/**
 * Loading an artifact for serving, once per process: the registered bytes (pinned version)
 * with their size and sha256 checked, the manifest sidecar in storage checked against the
 * registered manifest hash, the registry's own verification (signature, signer window,
 * quarantine), then unpacked in memory and loaded by the first runtime that accepts it.
 *
 * With a {@link ArtifactCache} (the serving Lambda's `/tmp`), the unpacked files are kept by
 * the sha256 of the packed bytes they came from, once those bytes verified: a later load of an
 * artifact with that sha256 in the same container (the model released and loaded again, another
 * artifact with the same bytes) reads no artifact bytes from the store. What can change
 * after the first load is re-checked every time from the database: the registered record and
 * its sha256, the signature and signer window, revocation, quarantine. The manifest sidecar is
 * read again only when the entry was written for another artifact with the same bytes.
 * Anything that fails is a {@link Refusal}, remembered for the process: that artifact never
 * answers. A store that is down is not a refusal (the caller retries; nothing is remembered).
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { canonicalJson, sha256Hex } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';
import type { ArtifactCache } from '../../platform/ports/artifact-cache.js';
import type { ObjectStore } from '../../platform/ports/object-store.js';
import type { LoadedModel, ModelRuntime } from '../../platform/ports/model-runtime.js';
import type { ArtifactRecord, RegistryService } from '../registry/service.js';
import type { VerificationService } from '../registry/verification.js';
import { SERVING_LIMITS, type Refusal } from './domain.js';
import { unpackTarGz, UnpackError } from './unpack.js';

/** A model ready to answer, and the signed artifact it stands for. */
export interface ServedModel {
  artifactId: string;
  modelName: string;
  manifestSignatureId: string;
  model: LoadedModel;
  /** a warm-up row: the training baseline's feature means, when the artifact carries `baseline.json` (see warm-up.ts) */
  warmUpRow?: number[];
}

/** The means of `baseline.json` (`aegis.baseline/v1`) in the model's feature order; undefined unless every feature has a finite one. */
export function baselineMeans(files: ReadonlyMap<string, Uint8Array>, features: readonly string[]): number[] | undefined {
  const bytes = files.get('baseline.json');
  if (!bytes || features.length === 0) return undefined;
  try {
    const b = JSON.parse(Buffer.from(bytes).toString('utf8')) as { format?: unknown; features?: Record<string, { mean?: unknown }> };
    if (b.format !== 'aegis.baseline/v1') return undefined;
    const means = features.map((f) => (b.features && Object.hasOwn(b.features, f) ? b.features[f]?.mean : undefined));
    return means.every((m): m is number => typeof m === 'number' && Number.isFinite(m)) ? means : undefined;
  } catch {
    return undefined;
  }
}

export interface LoaderDeps {
  registry: Pick<RegistryService, 'get'>;
  verification: Pick<VerificationService, 'validateArtifact'>;
  store: ObjectStore;
  runtimes: readonly ModelRuntime[];
  /** unpacked verified artifacts kept between loads; absent: every load reads the store */
  cache?: ArtifactCache | undefined;
}

class Refused extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.reason);
  }
}
const refuse = (code: Refusal['code'], reason: string) => new Refused({ code, reason });

async function readAll(stream: Readable, limit: number): Promise<{ bytes: Buffer; sha256: string }> {
  const h = createHash('sha256');
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      stream.destroy();
      throw refuse('ARTIFACT_UNVERIFIED', `the stored object is larger than the registered size`);
    }
    h.update(buf);
    parts.push(buf);
  }
  return { bytes: Buffer.concat(parts), sha256: h.digest('hex') };
}

/** The stored object missing is a refusal (it will not come back); any other store failure propagates. */
async function storedBytes(d: LoaderDeps, r: ArtifactRecord): Promise<Buffer> {
  let stream: Readable;
  try {
    stream = await d.store.get(r.storage.key, { versionId: r.storage.versionId });
  } catch (e) {
    if (e instanceof AegisError && e.code === 'OBJECT_NOT_FOUND')
      throw refuse('ARTIFACT_UNVERIFIED', 'the artifact is missing from storage');
    throw e;
  }
  const { bytes, sha256 } = await readAll(stream, r.size);
  if (bytes.length !== r.size)
    throw refuse('ARTIFACT_UNVERIFIED', `stored size ${bytes.length} differs from the registered ${r.size} bytes`);
  if (sha256 !== r.sha256) throw refuse('ARTIFACT_UNVERIFIED', 'stored bytes differ from the registered sha256');
  return bytes;
}

/** The manifest sidecar as storage holds it now must be the registered manifest. */
async function checkManifestSidecar(d: LoaderDeps, r: ArtifactRecord): Promise<void> {
  let text: string;
  try {
    const { bytes } = await readAll(await d.store.get(r.storage.manifestKey), 1024 * 1024);
    text = bytes.toString('utf8');
  } catch (e) {
    if (e instanceof Refused || (e instanceof AegisError && e.code === 'OBJECT_NOT_FOUND'))
      throw refuse('ARTIFACT_UNVERIFIED', 'the manifest is missing from storage');
    throw e;
  }
  let sha: string;
  try {
    sha = sha256Hex(canonicalJson(JSON.parse(text)));
  } catch {
    throw refuse('ARTIFACT_UNVERIFIED', 'the manifest in storage is not valid JSON');
  }
  if (sha !== r.manifestSha256) throw refuse('ARTIFACT_UNVERIFIED', 'the manifest in storage differs from the registered one');
}

/** The registry's verification, on the bytes the loader hashed (or the cache entry written from such bytes): no second read. */
async function verify(d: LoaderDeps, record: ArtifactRecord, hashed: { sha256: string; size: number }): Promise<void> {
  const report = await d.verification.validateArtifact(record.artifactId, { hashed, record });
  if (report.quarantined) throw refuse('ARTIFACT_UNVERIFIED', `the artifact is quarantined: ${report.quarantined.reason}`);
  const failed = report.checks.filter((c) => !c.ok);
  if (!report.ok) throw refuse('ARTIFACT_UNVERIFIED', failed.map((c) => `${c.check}: ${c.reason ?? 'failed'}`).join('; ') || 'failed');
}

async function unpack(bytes: Buffer): Promise<Map<string, Uint8Array>> {
  try {
    return await unpackTarGz(bytes);
  } catch (e) {
    if (e instanceof UnpackError) throw refuse('ARTIFACT_UNLOADABLE', e.message);
    throw e;
  }
}

async function loadFiles(d: LoaderDeps, files: Map<string, Uint8Array>): Promise<LoadedModel> {
  const runtime = d.runtimes.find((rt) => rt.accepts(files));
  if (!runtime)
    throw refuse(
      'UNSUPPORTED_FORMAT',
      `no runtime accepts the artifact (files: ${[...files.keys()].slice(0, 10).join(', ') || 'none'}); served formats: ${d.runtimes.map((rt) => rt.format).join(', ')}`,
    );
  try {
    return await runtime.load(files);
  } catch (e) {
    if (e instanceof AegisError && e.code === 'UNSUPPORTED_FORMAT') throw refuse('UNSUPPORTED_FORMAT', e.message);
    if (e instanceof AegisError && e.code === 'VALIDATION_FAILED') throw refuse('ARTIFACT_UNLOADABLE', e.message);
    throw e;
  }
}

/**
 * Loads (or refuses) one artifact: verified first, so nothing of an unverified artifact is
 * ever unpacked or parsed.
 *
 * @param read the artifact's record when the caller just read it (a promote-time check): not read again
 * @returns the served model, or the refusal (never thrown); infrastructure failures throw.
 */
export async function loadArtifact(d: LoaderDeps, artifactId: string, read?: ArtifactRecord): Promise<ServedModel | Refusal> {
  try {
    // the record as the caller just read it, or read now: what the verification below checks
    const record = read?.artifactId === artifactId ? read : await d.registry.get(artifactId);
    if (!record) throw refuse('ARTIFACT_UNVERIFIED', `artifact ${artifactId} is not registered`);
    if (record.size > SERVING_LIMITS.maxArtifactBytes)
      throw refuse(
        'ARTIFACT_UNLOADABLE',
        `the artifact (${record.size} bytes) is larger than serving holds (${SERVING_LIMITS.maxArtifactBytes})`,
      );
    const hashed = { sha256: record.sha256, size: record.size };
    const cached = await d.cache?.get(record.sha256);
    let files: Map<string, Uint8Array>;
    if (cached) {
      if (cached.artifactId !== artifactId) await checkManifestSidecar(d, record);
      await verify(d, record, hashed);
      files = cached.files;
    } else {
      const bytes = await storedBytes(d, record);
      await checkManifestSidecar(d, record);
      await verify(d, record, hashed);
      files = await unpack(bytes);
      await d.cache?.put(record.sha256, { artifactId, files });
    }
    const model = await loadFiles(d, files);
    const warmUpRow = baselineMeans(files, model.features);
    return {
      artifactId,
      modelName: record.modelName,
      manifestSignatureId: record.signature.manifestSignatureId,
      model,
      ...(warmUpRow && { warmUpRow }),
    };
  } catch (e) {
    if (e instanceof Refused) return e.refusal;
    throw e;
  }
}

export const isRefusal = (x: ServedModel | Refusal): x is Refusal => 'code' in x;

/** {@link ServingService.servable}: a test load, released at once, cached and audited nowhere; larger artifacts are reported unchecked. */
export async function servable(d: LoaderDeps, artifactId: string): Promise<Refusal | { unchecked: string } | null> {
  try {
    const record = await d.registry.get(artifactId);
    const size = record?.size ?? 0;
    if (size > SERVING_LIMITS.maxPromoteCheckBytes)
      return {
        unchecked: `not test-loaded at promote time (${size} bytes, over ${SERVING_LIMITS.maxPromoteCheckBytes}): its first prediction loads and verifies it`,
      };
    // a check only: nothing of it is cached
    const served = await loadArtifact({ ...d, cache: undefined }, artifactId, record);
    if (isRefusal(served)) return served;
    await served.model.close();
    return null;
  } catch {
    return null;
  }
}
