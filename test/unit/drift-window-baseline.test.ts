/**
 * The serving artifact's baseline for drift windows: `baseline.json` streamed out of the
 * stored `.tar.gz` (the registered version), checked against the registered sha256 and the
 * manifest's `baselineSha256`; v1 read as v2; no baseline is `no-baseline`, never a crash.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBaseline } from '../../lib/kernel/baseline-build.js';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { servingBaseline } from '../../lib/modules/drift/baseline.js';
import { DriftWindows } from '../../lib/modules/drift/service.js';
import type { ArtifactRecord } from '../../lib/modules/registry/domain.js';
import { tarGz } from '../support/tar.js';

let root: string;
let store: FsObjectStore;
const records = new Map<string, ArtifactRecord>();
const registry = { get: async (id: string) => records.get(id) };
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

const v2 = JSON.stringify(
  buildBaseline({
    columns: [{ name: 'x', kind: 'numeric', values: [1, 2, 3, 4, 5, 6, 7, 8] }],
    label: { column: 'y', values: ['0', '1', '0', '1', '0', '1', '0', '1'] },
  }),
);
const v1 = JSON.stringify({
  format: 'aegis.baseline/v1',
  rows: 4,
  featureOrder: ['x'],
  features: { x: { count: 4, mean: 2.5, std: 1.1, min: 1, max: 4, quantiles: {}, histogram: { edges: [1, 2.5, 4], counts: [2, 2] } } },
});

/** Stores an artifact with these files and registers a record for it (the manifest pinning `pin` when given). */
async function artifact(id: string, files: Record<string, string>, pin?: string, bytes?: Buffer): Promise<string> {
  const body = bytes ?? (await tarGz({ 'model.json': '{}', ...files }));
  const info = await store.put(`artifacts/${id}/artifact`, body);
  records.set(id, {
    artifactId: id,
    sha256: sha(body),
    size: body.length,
    storage: { key: `artifacts/${id}/artifact`, versionId: info.versionId, manifestKey: 'm', signatureKey: 's' },
    manifest: { ...(pin === undefined ? {} : { baselineSha256: pin }) },
  } as unknown as ArtifactRecord);
  return id;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'aegis-drift-baseline-'));
  store = new FsObjectStore({ root });
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('servingBaseline', () => {
  it('reads baseline.json of the stored artifact, checked against the manifest’s baselineSha256', async () => {
    const id = await artifact('a-v2', { 'baseline.json': v2 }, sha(v2));
    const b = await servingBaseline({ registry, store }, id);
    expect(b).toMatchObject({ kind: 'baseline', sha256: sha(v2), baseline: { format: 'aegis.baseline/v2', featureOrder: ['x'] } });
  });

  it('reads an unpinned v1 baseline as v2 (empty tail bins)', async () => {
    const b = await servingBaseline({ registry, store }, await artifact('a-v1', { './baseline.json': v1 }));
    if (b.kind !== 'baseline') throw new Error(b.reason);
    expect(b.baseline.features.x).toMatchObject({ kind: 'numeric', edges: [1, 2.5, 4], counts: [0, 2, 2, 0] });
  });

  it('refuses a baseline that differs from the pinned sha256, naming manifest.baselineSha256', async () => {
    const id = await artifact('a-swapped', { 'baseline.json': v2 }, sha('another baseline'));
    await expect(servingBaseline({ registry, store }, id)).rejects.toMatchObject({
      code: 'SHA256_MISMATCH',
      field: 'manifest.baselineSha256',
      details: { expected: sha('another baseline'), actual: sha(v2) },
    });
    const missing = await artifact('a-pinned-none', {}, sha(v2));
    await expect(servingBaseline({ registry, store }, missing)).rejects.toMatchObject({
      code: 'SHA256_MISMATCH',
      field: 'manifest.baselineSha256',
    });
  });

  it('refuses stored bytes that differ from the registered sha256, naming artifact', async () => {
    const id = await artifact('a-tampered', { 'baseline.json': v2 });
    records.get(id)!.sha256 = sha('other bytes');
    await expect(servingBaseline({ registry, store }, id)).rejects.toMatchObject({ code: 'SHA256_MISMATCH', field: 'artifact' });
  });

  it('names the bad field of an unreadable baseline', async () => {
    const id = await artifact('a-bad', { 'baseline.json': JSON.stringify({ format: 'aegis.baseline/v9' }) });
    await expect(servingBaseline({ registry, store }, id)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      field: 'baseline.json:format',
    });
  });

  it('no baseline in the artifact (or not an archive): no-baseline, and windowOf says so', async () => {
    const id = await artifact('a-none', {});
    expect(await servingBaseline({ registry, store }, id)).toEqual({
      kind: 'no-baseline',
      artifactId: id,
      reason: 'the artifact has no baseline.json at its root',
    });
    const garbage = await artifact('a-garbage', {}, undefined, Buffer.from('not gzip'));
    expect(await servingBaseline({ registry, store }, garbage)).toMatchObject({
      kind: 'no-baseline',
      reason: expect.stringMatching(/not a readable/),
    });
    const pinned = await artifact('a-garbage-pinned', {}, sha(v2), Buffer.from('not gzip'));
    await expect(servingBaseline({ registry, store }, pinned)).rejects.toMatchObject({
      code: 'SHA256_MISMATCH',
      field: 'manifest.baselineSha256',
    });
    const w = new DriftWindows({ registry, store, segments: store, labels: { labels: async () => new Map() } });
    expect(
      await w.windowOf({
        model: 'm',
        env: 'prod',
        artifactId: id,
        from: new Date('2026-11-30T00:00:00Z'),
        to: new Date('2026-11-30T01:00:00Z'),
      }),
    ).toMatchObject({ kind: 'no-baseline', artifactId: id });
  });

  it('an unknown artifact is NOT_FOUND naming artifactId', async () => {
    await expect(servingBaseline({ registry, store }, 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND', field: 'artifactId' });
  });
});
