import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AegisError } from '../../lib/kernel/errors.js';
import { datasetChecksum, datasetListing } from '../../lib/clients/training/dataset-checksum.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Exercises byte order: 'Z' < 'a', '-' < '/', and U+FF01 < U+1F600 in UTF-8 but not in UTF-16. */
const FIXTURE: Record<string, Buffer> = {
  'a.txt': Buffer.from('hello\n'),
  'Z.txt': Buffer.from('zed'),
  'dir-x.txt': Buffer.from('dash'),
  'dir/b.bin': Buffer.from([0, 1, 2, 255]),
  'dir/sub/empty': Buffer.alloc(0),
  '\u{1F600}.txt': Buffer.from('grin'),
  '\uFF01.txt': Buffer.from('bang'),
};
/** The same paths in UTF-8 byte order, written out by hand rather than sorted by the code under test. */
const BYTE_ORDER = ['Z.txt', 'a.txt', 'dir-x.txt', 'dir/b.bin', 'dir/sub/empty', '\uFF01.txt', '\u{1F600}.txt'];
/** Pinned (also reproduced with Python's hashlib) so a change to the format or order is caught, not just self-consistency. */
const PINNED = 'sha256:a80584cbeef285353fccc48871f5248f505f77e8a8034f4bae8336a62c5a133f';

let base: string;
let n = 0;
const fresh = async () => {
  const dir = join(base, `t${n++}`);
  await mkdir(dir);
  return dir;
};

/** Writes `files` under `root` in the given order, with the given mtime and file mode. */
async function build(
  root: string,
  files: Record<string, Buffer>,
  opts: { reverse?: boolean; mtime?: number; mode?: number } = {},
): Promise<string> {
  const names = Object.keys(files);
  for (const name of opts.reverse ? names.reverse() : names) {
    const file = join(root, name);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, files[name]!);
    if (opts.mode !== undefined) await chmod(file, opts.mode);
    if (opts.mtime !== undefined) await utimes(file, opts.mtime, opts.mtime);
  }
  return root;
}

async function refusal(p: Promise<unknown>): Promise<AegisError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AegisError);
  expect((e as AegisError).code).toBe('VALIDATION_FAILED');
  expect((e as AegisError).field).toBe('dataset');
  return e as AegisError;
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'aegis-dataset-checksum-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('datasetChecksum', () => {
  it('matches the documented listing format computed independently, and the pinned value', async () => {
    const root = await build(await fresh(), FIXTURE);
    const listing = BYTE_ORDER.map((p) => `${sha(FIXTURE[p]!)}  ${FIXTURE[p]!.length}  ${p}\n`).join('');
    const result = await datasetChecksum(root);
    expect(result.checksum).toBe(`sha256:${sha(Buffer.from(listing, 'utf8'))}`);
    expect(result.checksum).toBe(PINNED);
    expect(result.files.map((f) => f.path)).toEqual(BYTE_ORDER);
    expect(datasetListing(result.files)).toBe(listing);
    expect(result).toMatchObject({ kind: 'folder', totalBytes: 6 + 3 + 4 + 4 + 0 + 4 + 4 });
  });

  it('gives the same checksum regardless of creation order, mtimes, modes and folder name', async () => {
    const a = await build(await fresh(), FIXTURE, { mtime: 1_000_000, mode: 0o644 });
    const b = await build(await fresh(), FIXTURE, { reverse: true, mtime: 1_700_000_000, mode: 0o600 });
    await chmod(join(b, 'dir'), 0o700);
    expect((await datasetChecksum(b)).checksum).toBe((await datasetChecksum(a)).checksum);
  });

  it('changes when one byte of one file changes', async () => {
    const a = await build(await fresh(), FIXTURE);
    const b = await build(await fresh(), { ...FIXTURE, 'dir/b.bin': Buffer.from([0, 1, 2, 254]) });
    const [ca, cb] = [await datasetChecksum(a), await datasetChecksum(b)];
    expect(cb.checksum).not.toBe(ca.checksum);
    expect(cb.totalBytes).toBe(ca.totalBytes);
  });

  it('changes when a file is renamed', async () => {
    const root = await build(await fresh(), FIXTURE);
    const before = await datasetChecksum(root);
    await rename(join(root, 'dir/b.bin'), join(root, 'dir/c.bin'));
    expect((await datasetChecksum(root)).checksum).not.toBe(before.checksum);
  });

  it('hashes nested folders with / separated relative paths', async () => {
    const root = await build(await fresh(), { 'x/y/z/deep.txt': Buffer.from('deep'), 'top.txt': Buffer.from('top') });
    await mkdir(join(root, 'x/empty-dir'));
    const result = await datasetChecksum(root);
    expect(result.files).toEqual([
      { path: 'top.txt', sha256: sha('top'), size: 3 },
      { path: 'x/y/z/deep.txt', sha256: sha('deep'), size: 4 },
    ]);
  });

  it('hashes a single-file dataset with its basename as the path', async () => {
    const file = join(await fresh(), 'train.csv');
    await writeFile(file, 'a,b\n1,2\n');
    const result = await datasetChecksum(file);
    expect(result).toEqual({
      checksum: `sha256:${sha(`${sha('a,b\n1,2\n')}  8  train.csv\n`)}`,
      files: [{ path: 'train.csv', sha256: sha('a,b\n1,2\n'), size: 8 }],
      totalBytes: 8,
      kind: 'file',
    });
  });

  it('streams files larger than one read and reports progress up to the total', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 0xab);
    const root = await build(await fresh(), { 'big.bin': big, 'small.txt': Buffer.from('s') });
    const calls: [number, number][] = [];
    const result = await datasetChecksum(root, { onProgress: (done, total) => calls.push([done, total]) });
    expect(result.files[0]).toEqual({ path: 'big.bin', sha256: sha(big), size: big.length });
    expect(calls.at(-1)).toEqual([big.length + 1, big.length + 1]);
    expect(calls.every(([d, t], i) => t === big.length + 1 && d >= (calls[i - 1]?.[0] ?? 0))).toBe(true);
  });

  it('refuses a symlink inside the dataset, naming it', async () => {
    const root = await build(await fresh(), FIXTURE);
    await symlink(join(root, 'a.txt'), join(root, 'dir/link.txt'));
    const e = await refusal(datasetChecksum(root));
    expect(e.message).toContain(join(root, 'dir/link.txt'));
    expect(e.message).toMatch(/is a symbolic link: .*not reproducible/);
  });

  it('refuses a dataset path that is itself a symlink', async () => {
    const root = await build(await fresh(), FIXTURE);
    const link = join(base, `link${n++}`);
    await symlink(root, link);
    expect((await refusal(datasetChecksum(link))).message).toContain(link);
  });

  it('refuses a FIFO inside the dataset', async () => {
    const root = await build(await fresh(), FIXTURE);
    execFileSync('mkfifo', [join(root, 'pipe')]);
    expect((await refusal(datasetChecksum(root))).message).toMatch(/pipe is a FIFO/);
  });

  it('refuses an empty folder, and one holding only empty folders', async () => {
    const root = await fresh();
    expect((await refusal(datasetChecksum(root))).message).toContain('contains no regular files');
    await mkdir(join(root, 'a/b'), { recursive: true });
    await refusal(datasetChecksum(root));
  });

  it('refuses a missing path, naming it', async () => {
    const missing = join(base, 'no-such-dataset');
    expect((await refusal(datasetChecksum(missing))).message).toBe(`dataset path does not exist: ${missing}`);
  });
});
