import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { packDirectory } from '../../lib/clients/training/pack.js';
import { hashArtifact } from '../../lib/kernel/artifact-baseline.js';
import { ManifestInput } from '../../lib/kernel/manifest.js';
import { verifyManifest, type BaselineEvidence } from '../../lib/kernel/verification.js';
import { sampleManifest } from '../support/manifests.js';
import { tarGz } from '../support/tar.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
/** in uneven slices, as a network stream delivers them */
const stream = (b: Buffer) =>
  Readable.from(Array.from({ length: Math.ceil(b.length / 777) }, (_, i) => b.subarray(i * 777, (i + 1) * 777)));
const scan = async (b: Buffer) => (await hashArtifact(stream(b), { baseline: true })).baseline!;

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'aegis-baseline-artifact-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('hashArtifact: the sha256 of baseline.json inside a .tar.gz, in the hashing pass', () => {
  it("finds the packer's baseline.json behind a large file, hashing the whole artifact as before", async () => {
    const dir = join(tmp, 'model');
    await mkdir(join(dir, 'weights'), { recursive: true });
    await writeFile(join(dir, 'a-big.bin'), randomBytes(3 * 1024 * 1024 + 17));
    await writeFile(join(dir, 'weights', 'baseline.json'), '{"not":"the root one"}\n');
    await writeFile(join(dir, 'baseline.json'), '{"format":"aegis.baseline/v2"}\n');
    const packed = await packDirectory(dir, join(tmp, 'model.tar.gz'));
    const bytes = await readFile(join(tmp, 'model.tar.gz'));
    const r = await hashArtifact(stream(bytes), { baseline: true });
    expect(r).toEqual({ sha256: packed.sha256, size: packed.size, baseline: { sha256: sha256('{"format":"aegis.baseline/v2"}\n') } });
    expect(await hashArtifact(stream(bytes), { baseline: false })).toEqual({ sha256: packed.sha256, size: packed.size });
  });

  it('reads ./baseline.json and names found after long (pax) names', async () => {
    expect(await scan(await tarGz({ './baseline.json': 'B' }))).toEqual({ sha256: sha256('B') });
    const long = `${'d/'.repeat(150)}file.txt`;
    expect(await scan(await tarGz({ [long]: 'x'.repeat(5000), 'baseline.json': 'C' }))).toEqual({ sha256: sha256('C') });
  });

  it('reports an archive without a root baseline.json, one with two, and bytes that are not a .tar.gz', async () => {
    expect(await scan(await tarGz({ 'model.json': '{}', 'sub/baseline.json': 'x' }))).toEqual({
      sha256: null,
      problem: 'the archive has no baseline.json at its root',
    });
    expect((await scan(await tarGz({ 'baseline.json': 'a', './baseline.json': 'b' }))).problem).toBe(
      'the archive holds baseline.json 2 times',
    );
    expect((await scan(randomBytes(4000))).problem).toMatch(/^not a gzip archive/);
    const good = await tarGz({ 'baseline.json': 'a'.repeat(10_000) });
    expect((await scan(good.subarray(0, good.length - 200))).sha256).toBeNull();
  });
});

describe('manifest baselineSha256', () => {
  const m = (over: Record<string, unknown>) => sampleManifest('pinned', 'c'.repeat(64), 10, over);

  it('is optional: accepted as 64 lowercase hex, absent in older manifests', () => {
    expect(ManifestInput.parse(m({ baselineSha256: 'd'.repeat(64) })).baselineSha256).toBe('d'.repeat(64));
    expect(ManifestInput.parse(m({})).baselineSha256).toBeUndefined();
  });

  it.each([['D'.repeat(64)], ['d'.repeat(63)], ['z'.repeat(64)], [42]])('refuses %p, naming baselineSha256', (bad) => {
    const r = ManifestInput.safeParse(m({ baselineSha256: bad }));
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(['baselineSha256']);
  });
});

describe('verifyManifest baselineSha256 check', () => {
  const pinned = 'e'.repeat(64);
  const manifest = (over: Record<string, unknown> = {}) =>
    sampleManifest('pinned', 'c'.repeat(64), 10, { artifactId: '00000000-0000-4000-8000-000000000001', ...over });
  const check = (m: unknown, baselines: BaselineEvidence[]) =>
    verifyManifest({ manifest: m, signature: undefined, key: undefined, baselines }).checks.find((c) => c.check === 'baselineSha256');
  const inArtifact = (sha: string | null, problem?: string): BaselineEvidence => ({
    sha256: sha,
    source: 'artifact',
    from: 'baseline.json in the artifact',
    ...(problem ? { problem } : {}),
  });

  it('passes the pinned baseline and fails a swapped or missing one, with expected and actual', () => {
    expect(check(manifest({ baselineSha256: pinned }), [inArtifact(pinned)])).toEqual({ check: 'baselineSha256', ok: true });
    expect(check(manifest({ baselineSha256: pinned }), [inArtifact('f'.repeat(64))])).toEqual({
      check: 'baselineSha256',
      ok: false,
      reason: "baseline.json in the artifact does not match the manifest's baselineSha256: the baseline was swapped or edited",
      expected: pinned,
      actual: 'f'.repeat(64),
    });
    expect(check(manifest({ baselineSha256: pinned }), [inArtifact(null, 'the archive has no baseline.json at its root')])!.reason).toBe(
      'baseline.json in the artifact: the archive has no baseline.json at its root, but the manifest pins baselineSha256',
    );
  });

  it('leaves older manifests alone, but fails a baseline file given for a manifest that pins none', () => {
    expect(check(manifest(), [inArtifact('f'.repeat(64))])).toBeUndefined();
    expect(check(manifest({ baselineSha256: pinned }), [])).toBeUndefined();
    expect(check(manifest(), [{ sha256: pinned, source: 'file', from: 'b.json' }])!.reason).toBe(
      'the manifest pins no baseline, so b.json cannot be verified',
    );
  });
});
