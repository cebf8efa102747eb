import { AegisError } from '../../kernel/errors.js';
import {
  BUNDLE_FILES,
  buildIndex,
  fileText,
  INDEX_FILE,
  INDEX_SIGNATURE_FILE,
  PARENT_FILE,
  type BundleFile,
  type BundleSignature,
} from '../../kernel/lineage-bundle.js';
import { buildLineage, type Lineage, type LineageQuarantine, type LineageServed, type LineageSuggestion } from '../../kernel/lineage.js';
import { statementBytes } from '../../kernel/signatures.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { DatasetRecord, DatasetService } from '../datasets/service.js';
import type { KeyService } from '../keys/service.js';
import type { PromotionService } from '../promotion/service.js';
import type { RolloutService } from '../rollout/service.js';
import type { ArtifactRecord, RegistryService } from '../registry/service.js';

/** Where the artifact went: the promotion module's history, the rollout module's routes, the quarantine module's state. */
type History = Pick<PromotionService, 'summaries'> &
  Pick<RolloutService, 'deployments'> & {
    quarantine: (artifactId: string) => Promise<LineageQuarantine | null>;
    /** where serving verified and loaded it (the serving module's deployments) */
    served: (artifactId: string) => Promise<LineageServed[]>;
    /** the drift retrain suggestions raised while it served or resolved by it (the drift records); absent: none */
    suggestions?: (artifactId: string) => Promise<LineageSuggestion[]>;
  };

type HistoryPart = Pick<Lineage, 'promotions' | 'deployments' | 'quarantine' | 'served'> & { suggestions?: LineageSuggestion[] };

/** Lineage of an artifact and the signed, self-contained bundle auditors verify offline. */
export class LineageService {
  private readonly registry: RegistryService;
  /** where the artifact went: the promotion module's history and the rollout module's routes */
  private readonly history: History;
  private readonly datasets: DatasetService;
  private readonly keys: KeyService;
  private readonly clock: Clock;

  constructor(d: { registry: RegistryService; history: History; datasets: DatasetService; keys: KeyService; clock: Clock }) {
    ({ registry: this.registry, history: this.history, datasets: this.datasets, keys: this.keys, clock: this.clock } = d);
  }

  async #load(artifactId: string): Promise<ArtifactRecord> {
    const record = await this.registry.get(artifactId);
    if (!record) throw new AegisError('NOT_FOUND', `no artifact ${artifactId}`, { field: 'artifactId' });
    return record;
  }

  async lineage(artifactId: string): Promise<Lineage> {
    const r = await this.#load(artifactId);
    return this.#build(r, await this.#datasets(artifactId), await this.#history(artifactId));
  }

  async #history(artifactId: string): Promise<HistoryPart> {
    const [promotions, deployments, quarantine, served, suggestions] = await Promise.all([
      this.history.summaries(artifactId),
      this.history.deployments(artifactId),
      this.history.quarantine(artifactId),
      this.history.served(artifactId),
      this.history.suggestions?.(artifactId) ?? [],
    ]);
    return { promotions, deployments, served, suggestions, ...(quarantine ? { quarantine } : {}) };
  }

  /** The datasets the artifact was trained on: the registry's links, the dataset registry's records. */
  async #datasets(artifactId: string): Promise<DatasetRecord[]> {
    return this.datasets.getMany(await this.registry.datasetLinks(artifactId));
  }

  #build(r: ArtifactRecord, datasets: DatasetRecord[], history: HistoryPart): Lineage {
    return buildLineage(
      {
        artifactId: r.artifactId,
        modelName: r.modelName,
        version: r.version,
        sha256: r.sha256,
        size: r.size,
        createdAt: r.createdAt,
        createdBy: r.createdBy,
      },
      r.manifest,
      r.manifestSha256,
      r.signature,
      datasets.map((d) => ({ id: d.id, version: d.version, checksum: d.checksum, uri: d.uri, schema: d.schema })),
      history.promotions,
      history.deployments,
      history.quarantine ?? null,
      history.served ?? [],
      history.suggestions ?? [],
    );
  }

  /**
   * The bundle's files as exact text (canonical JSON + newline), including the index of
   * their sha256 and its signature by the active manifest key.
   */
  async bundle(artifactId: string): Promise<Record<string, string>> {
    const r = await this.#load(artifactId);
    const datasets = await this.#datasets(artifactId);
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
      'lineage.json': fileText(this.#build(r, datasets, await this.#history(artifactId))),
    };
    // a retrained artifact's parent, signed, so verify-bundle can follow the retrained-from edge
    const parent = r.manifest.parent ? await this.registry.get(r.manifest.parent.artifactId) : undefined;
    const withParent = parent ? { ...files, [PARENT_FILE]: fileText({ manifest: parent.manifest, signature: parent.signature }) } : files;
    const signer = await this.keys.activeSigner('manifest');
    const createdAt = this.clock.now().toISOString();
    const index = buildIndex(withParent, { artifactId, createdAt, signerId: signer.kid });
    const signature: BundleSignature = {
      signerId: signer.kid,
      alg: signer.alg,
      ts: createdAt,
      signature: (await signer.sign(statementBytes(index))).toString('base64'),
    };
    const out: Record<string, string> = { ...withParent, [INDEX_FILE]: fileText(index), [INDEX_SIGNATURE_FILE]: fileText(signature) };
    if (Object.keys(out).length !== BUNDLE_FILES.length + 2 + (parent ? 1 : 0)) throw new Error('bundle file set is inconsistent');
    return out;
  }
}
