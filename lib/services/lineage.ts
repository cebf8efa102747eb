import { AegisError } from '../core/errors.js';
import { BUNDLE_FILES, buildIndex, fileText, INDEX_FILE, INDEX_SIGNATURE_FILE, type BundleFile, type BundleSignature } from '../core/bundle.js';
import { buildLineage, type Lineage } from '../core/lineage.js';
import { statementBytes } from '../core/signatures.js';
import type { Clock } from '../ports.js';
import type { DatasetService } from './datasets.js';
import type { KeyService } from './keys.js';
import type { ArtifactRecord, RegistryService } from './registry.js';

/** Lineage of an artifact and the signed, self-contained bundle auditors verify offline. */
export class LineageService {
  constructor(
    private readonly registry: RegistryService,
    private readonly datasets: DatasetService,
    private readonly keys: KeyService,
    private readonly clock: Clock,
  ) {}

  async #load(artifactId: string): Promise<ArtifactRecord> {
    const record = await this.registry.get(artifactId);
    if (!record) throw new AegisError('NOT_FOUND', `no artifact ${artifactId}`, { field: 'artifactId' });
    return record;
  }

  async lineage(artifactId: string): Promise<Lineage> {
    const r = await this.#load(artifactId);
    return this.#build(r, await this.datasets.forArtifact(artifactId));
  }

  #build(r: ArtifactRecord, datasets: Awaited<ReturnType<DatasetService['forArtifact']>>): Lineage {
    return buildLineage(
      { artifactId: r.artifactId, modelName: r.modelName, version: r.version, sha256: r.sha256, size: r.size, createdAt: r.createdAt, createdBy: r.createdBy },
      r.manifest,
      r.manifestSha256,
      r.signature,
      datasets.map((d) => ({ id: d.id, version: d.version, checksum: d.checksum, uri: d.uri, schema: d.schema })),
    );
  }

  /**
   * The bundle's files as exact text (canonical JSON + newline), including the index of
   * their sha256 and its signature by the active manifest key.
   */
  async bundle(artifactId: string): Promise<Record<string, string>> {
    const r = await this.#load(artifactId);
    const datasets = await this.datasets.forArtifact(artifactId);
    const files: Record<BundleFile, string> = {
      'manifest.json': fileText(r.manifest),
      'signature.json': fileText(r.signature),
      'record.json': fileText({
        artifactId: r.artifactId,
        modelName: r.modelName,
        version: r.version,
        sha256: r.sha256,
        size: r.size,
        manifestSha256: r.manifestSha256,
        storage: r.storage,
        createdAt: r.createdAt,
        createdBy: r.createdBy,
      }),
      'datasets.json': fileText(datasets),
      'keys.json': fileText(await this.keys.list()),
      'lineage.json': fileText(this.#build(r, datasets)),
    };
    const signer = await this.keys.activeSigner('manifest');
    const createdAt = this.clock.now().toISOString();
    const index = buildIndex(files, { artifactId, createdAt, signerId: signer.kid });
    const signature: BundleSignature = { signerId: signer.kid, alg: signer.alg, ts: createdAt, signature: (await signer.sign(statementBytes(index))).toString('base64') };
    const out: Record<string, string> = { ...files, [INDEX_FILE]: fileText(index), [INDEX_SIGNATURE_FILE]: fileText(signature) };
    if (Object.keys(out).length !== BUNDLE_FILES.length + 2) throw new Error('bundle file set is inconsistent');
    return out;
  }
}
