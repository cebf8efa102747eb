import { AegisError } from '../../kernel/errors.js';
import {
  BUNDLE_FILES,
  buildIndex,
  fileText,
  INDEX_FILE,
  INDEX_SIGNATURE_FILE,
  type BundleFile,
  type BundleSignature,
} from '../../kernel/lineage-bundle.js';
import { buildLineage, type Lineage } from '../../kernel/lineage.js';
import { statementBytes } from '../../kernel/signatures.js';
import { toIso, toIsoOrNull } from '../../platform/sql/schema.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database, Executor } from '../../platform/ports/database.js';
import type { DatasetRecord, DatasetService } from '../datasets/service.js';
import type { KeyService } from '../keys/service.js';
import type { ArtifactRecord, RegistryService } from '../registry/service.js';

/** Lineage of an artifact and the signed, self-contained bundle auditors verify offline. */
export class LineageService {
  constructor(
    private readonly database: Database,
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
    return this.#build(r, await this.#datasets(artifactId), await readPromotionsAndDeployments(this.database.db, artifactId));
  }

  /** The datasets the artifact was trained on: the registry's links, the dataset registry's records. */
  async #datasets(artifactId: string): Promise<DatasetRecord[]> {
    return this.datasets.getMany(await this.registry.datasetLinks(artifactId));
  }

  #build(r: ArtifactRecord, datasets: DatasetRecord[], history: Pick<Lineage, 'promotions' | 'deployments'>): Lineage {
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
      'lineage.json': fileText(this.#build(r, datasets, await readPromotionsAndDeployments(this.database.db, artifactId))),
    };
    const signer = await this.keys.activeSigner('manifest');
    const createdAt = this.clock.now().toISOString();
    const index = buildIndex(files, { artifactId, createdAt, signerId: signer.kid });
    const signature: BundleSignature = {
      signerId: signer.kid,
      alg: signer.alg,
      ts: createdAt,
      signature: (await signer.sign(statementBytes(index))).toString('base64'),
    };
    const out: Record<string, string> = { ...files, [INDEX_FILE]: fileText(index), [INDEX_SIGNATURE_FILE]: fileText(signature) };
    if (Object.keys(out).length !== BUNDLE_FILES.length + 2) throw new Error('bundle file set is inconsistent');
    return out;
  }
}

/**
 * Lineage's reads of tables it does not own: `promotions` (the promotion module's) and
 * `routes` (the rollout module's). Kept in this one function until those modules offer
 * the reads on their services; then it becomes two service calls.
 */
async function readPromotionsAndDeployments(db: Executor, artifactId: string): Promise<Pick<Lineage, 'promotions' | 'deployments'>> {
  /* eslint-disable no-restricted-syntax -- the promotion and rollout modules' tables, read here until their services offer these reads */
  const promotions = await db
    .selectFrom('promotions')
    .select(['promotion_id', 'target_env', 'status', 'created_at', 'applied_at'])
    .where('artifact_id', '=', artifactId)
    .orderBy('created_at')
    .execute();
  const routes = await db
    .selectFrom('routes')
    .selectAll()
    .where((eb) => eb.or([eb('stable_artifact_id', '=', artifactId), eb('canary_artifact_id', '=', artifactId)]))
    .orderBy('env')
    .execute();
  /* eslint-enable no-restricted-syntax */
  return {
    promotions: promotions.map((p) => ({
      promotionId: p.promotion_id,
      targetEnv: p.target_env,
      status: p.status,
      createdAt: toIso(p.created_at),
      appliedAt: toIsoOrNull(p.applied_at),
    })),
    deployments: routes.map((r) =>
      r.stable_artifact_id === artifactId
        ? { env: r.env, role: 'stable' as const, percent: 100 - r.canary_percent }
        : { env: r.env, role: 'canary' as const, percent: r.canary_percent },
    ),
  };
}
