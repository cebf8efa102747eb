import type { TrainingManifest } from './manifest.js';
import type { SignatureRecord } from './signatures.js';

export interface LineageDataset {
  id: string;
  version: string;
  checksum: string;
  uri: string | null;
  schema: Record<string, unknown> | null;
}

export interface LineageQuarantine {
  requestId: string;
  reason: string;
  quarantinedBy: string;
  quarantinedAt: string;
}

/** Where serving first verified and loaded the artifact, per environment (`serving.verified`). */
export interface LineageServed {
  env: string;
  manifestSignatureId: string;
  format: string;
  verifiedAt: string;
}

/** A drift retrain suggestion about the artifact: raised while it served, or resolved by its promotion. */
export interface LineageSuggestion {
  suggestionId: string;
  env: string;
  status: string;
  servingArtifactId: string;
  createdAt: string;
  resolvedBy: { artifactId: string; promotionId: string } | null;
}

export type LineageRel = 'described-by' | 'trained-on' | 'built-from' | 'ran-in' | 'retrained-from' | 'suggests-retrain' | 'resolves';

/** How an artifact serves an environment: the stable artifact, the canary (callers get its answers), or a shadow (mirrored requests; no caller gets its answers). */
export type DeploymentRole = 'stable' | 'canary' | 'shadow';

export interface Lineage {
  artifact: { artifactId: string; modelName: string; version: number; sha256: string; size: number; createdAt: string; createdBy: string };
  manifest: { manifestSha256: string; manifestSignatureId: string; signerId: string };
  datasets: LineageDataset[];
  code: { codeRef: string };
  container: { digest: string };
  /** every promotion of the artifact, in request order */
  promotions: { promotionId: string; targetEnv: string; status: string; createdAt: string; appliedAt: string | null }[];
  /** where it serves now: stable, canary at a percent, or shadow mirrored a percent of the requests */
  deployments: { env: string; role: DeploymentRole; percent: number }[];
  /** present when the artifact is quarantined: the request, who, when and why */
  quarantine?: LineageQuarantine;
  /** present once serving verified and loaded it somewhere: where, with which signature, when */
  served?: LineageServed[];
  /** present when the artifact was retrained (`aegis retrain`): the parent and the drift suggestion that led to it, if any */
  parent?: { artifactId: string; suggestionId?: string };
  edges: { from: string; to: string; rel: LineageRel }[];
}

/** The edges of the suggestions about an artifact: the serving artifact suggests a retrain, the retrained one resolves it. */
function suggestionEdges(artifactId: string, suggestions: readonly LineageSuggestion[]): Lineage['edges'] {
  return suggestions.flatMap((s) => [
    ...(s.servingArtifactId === artifactId
      ? [{ from: `artifact:${artifactId}`, to: `suggestion:${s.suggestionId}`, rel: 'suggests-retrain' as const }]
      : []),
    ...(s.resolvedBy?.artifactId === artifactId
      ? [{ from: `artifact:${artifactId}`, to: `suggestion:${s.suggestionId}`, rel: 'resolves' as const }]
      : []),
  ]);
}

/**
 * The lineage graph of one artifact: artifact → manifest → datasets, code, container, and for a
 * retrained artifact artifact → parent artifact (`retrained-from`, from the signed manifest's `parent`);
 * artifact → drift suggestion (`suggests-retrain` while it served, `resolves` once its promotion resolved it;
 * the node is `suggestion:<id>`, its record at `GET /v1/drift/suggestions/{id}`).
 */
export function buildLineage(
  artifact: Lineage['artifact'],
  manifest: TrainingManifest,
  manifestSha256: string,
  signature: SignatureRecord,
  datasets: LineageDataset[],
  promotions: Lineage['promotions'] = [],
  deployments: Lineage['deployments'] = [],
  quarantine: LineageQuarantine | null = null,
  served: LineageServed[] = [],
  suggestions: LineageSuggestion[] = [],
): Lineage {
  const m = `manifest:${manifestSha256}`;
  return {
    artifact,
    manifest: { manifestSha256, manifestSignatureId: signature.manifestSignatureId, signerId: signature.signerId },
    datasets,
    code: { codeRef: manifest.codeRef },
    container: { digest: manifest.containerDigest },
    promotions,
    deployments,
    ...(quarantine ? { quarantine } : {}),
    ...(served.length ? { served } : {}),
    ...(manifest.parent ? { parent: manifest.parent } : {}),
    edges: [
      { from: `artifact:${artifact.artifactId}`, to: m, rel: 'described-by' },
      ...datasets.map((d) => ({ from: m, to: `dataset:${d.id}@${d.version}`, rel: 'trained-on' as const })),
      { from: m, to: `code:${manifest.codeRef}`, rel: 'built-from' },
      { from: m, to: `container:${manifest.containerDigest}`, rel: 'ran-in' },
      ...(manifest.parent
        ? [{ from: `artifact:${artifact.artifactId}`, to: `artifact:${manifest.parent.artifactId}`, rel: 'retrained-from' as const }]
        : []),
      ...suggestionEdges(artifact.artifactId, suggestions),
    ],
  };
}
