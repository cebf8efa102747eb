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
  edges: { from: string; to: string; rel: 'described-by' | 'trained-on' | 'built-from' | 'ran-in' | 'retrained-from' }[];
}

/**
 * The lineage graph of one artifact: artifact → manifest → datasets, code, container, and for a
 * retrained artifact artifact → parent artifact (`retrained-from`, from the signed manifest's `parent`).
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
    ],
  };
}
