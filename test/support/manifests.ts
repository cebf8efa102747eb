/** A valid training manifest for tests and benchmarks; override any field. */
export function sampleManifest(modelName: string, artifactSha256: string, artifactSize: number, overrides: Record<string, unknown> = {}) {
  return {
    modelName,
    codeRef: 'git:4f2c1e0',
    containerDigest: `sha256:${'a'.repeat(64)}`,
    datasetRefs: [{ id: 'transactions', version: '2026-11', checksum: `sha256:${'b'.repeat(64)}` }],
    hyperparams: { lr: 0.1, epochs: 3 },
    seed: 42,
    trainingCmd: 'aegis-train --epochs 3',
    environment: { node: process.version },
    artifactSha256,
    artifactSize,
    metrics: { auc: 0.91 },
    createdAt: '2026-11-22T10:00:00.000Z',
    ...overrides,
  };
}
