import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, chmod, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AegisError } from '../../lib/kernel/errors.js';
import { packDirectory } from '../../lib/clients/training/pack.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Incompressible but reproducible bytes, more than two 1 MiB chunks, so re-chunking is exercised. */
function noise(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0, block = 0; i < bytes; i += 32, block++) createHash('sha256').update(`noise-${block}`).digest().copy(out, i);
  return out;
}

const FILES: Record<string, Buffer> = {
  'README.md': Buffer.from('# model\n'),
  'bin/train.sh': Buffer.from('#!/bin/sh\necho train\n'),
  'weights/layer-1.bin': noise(2.5 * 1024 * 1024),
  'weights/meta.json': Buffer.from('{"layers":1}\n'),
  'weights-notes.txt': Buffer.from('dash sorts before slash\n'),
  'caf\u00e9/\u00fcber.txt': Buffer.from('non-ASCII names need a pax path record\n'),
  [`${'long-folder-name/'.repeat(8)}file-with-a-long-name.txt`]: Buffer.from('longer than ustar name field\n'),
};
const EXECUTABLE = 'bin/train.sh';
const LONG = `${'long-folder-name/'.repeat(8)}file-with-a-long-name.txt`;
/**
 * Entry order, by hand: UTF-8 bytes of the path, a directory keyed without its trailing '/', so
 * 'weights' < 'weights-notes.txt' < 'weights/…' ('-' is 0x2d, '/' 0x2f) and 'caf\u00e9' < 'long…'.
 */
const ORDER = [
  'README.md',
  'bin/',
  'bin/train.sh',
  'caf\u00e9/',
  'caf\u00e9/\u00fcber.txt',
  ...Array.from({ length: 8 }, (_, i) => `${'long-folder-name/'.repeat(i + 1)}`),
  LONG,
  'weights/',
  'weights-notes.txt',
  'weights/layer-1.bin',
  'weights/meta.json',
];

let base: string;
let n = 0;
const fresh = async (label = 't') => {
  const dir = join(base, `${label}${n++}`);
  await mkdir(dir);
  return dir;
};

async function build(opts: { reverse?: boolean; mtime: number; fileMode: number; dirMode: number }): Promise<string> {
  const root = await fresh('src');
  const names = Object.keys(FILES);
  for (const name of opts.reverse ? names.reverse() : names) {
    const file = join(root, name);
    await mkdir(dirname(file), { recursive: true, mode: opts.dirMode });
    await writeFile(file, FILES[name]!);
    await chmod(file, name === EXECUTABLE ? opts.fileMode | 0o100 : opts.fileMode);
    await utimes(file, opts.mtime, opts.mtime);
    await utimes(dirname(file), opts.mtime, opts.mtime);
  }
  return root;
}

const tarOut = (args: string[]) => {
  const r = spawnSync('tar', args, { encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' } });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter((l) => l !== '');
};

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'aegis-pack-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('packDirectory', () => {
  it('writes byte-identical archives for the same content created in a different order, with other mtimes and modes', async () => {
    const a = await build({ mtime: 1_000_000, fileMode: 0o644, dirMode: 0o755 });
    const b = await build({ reverse: true, mtime: 1_700_000_000, fileMode: 0o600, dirMode: 0o700 });
    const [outA, outB] = [join(await fresh('out'), 'a.tar.gz'), join(await fresh('out'), 'b.tar.gz')];
    const [ra, rb] = [await packDirectory(a, outA), await packDirectory(b, outB)];
    const [bytesA, bytesB] = [await readFile(outA), await readFile(outB)];
    expect(bytesB.equals(bytesA)).toBe(true);
    expect(ra).toEqual(rb);
    expect(ra).toEqual({ sha256: sha(bytesA), size: bytesA.length, entries: ORDER.length });
  });

  it('gives the same sha256 when the same folder is packed twice', async () => {
    const src = await build({ mtime: 5, fileMode: 0o644, dirMode: 0o755 });
    const out = await fresh('out');
    const first = await packDirectory(src, join(out, '1.tar.gz'));
    const second = await packDirectory(src, join(out, '2.tar.gz'));
    expect(second.sha256).toBe(first.sha256);
    await expect(access(join(out, '1.tar.gz.tmp'))).rejects.toThrow(); // renamed into place
  });

  it('matches the pinned sha256 of a tiny archive, so a tar-stream or fflate upgrade that changes the bytes is noticed', async () => {
    const src = await fresh('src');
    await mkdir(join(src, 'd'));
    await writeFile(join(src, 'd/x.txt'), 'x\n');
    await writeFile(join(src, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    const r = await packDirectory(src, join(await fresh('out'), 'tiny.tar.gz'));
    expect(r).toEqual({ sha256: 'd95e87ff82630c4e0a5b9cd548e72d6e79220ea693632b63f0c4ed53131c81ca', size: 150, entries: 3 });
  });

  it('extracts with the system tar to identical files, listed with mtime 1970 and the fixed modes', async () => {
    const src = await build({ mtime: 1_700_000_000, fileMode: 0o640, dirMode: 0o750 });
    const archive = join(await fresh('out'), 'model.tar.gz');
    await packDirectory(src, archive);
    const dest = await fresh('extract');
    tarOut(['-xzf', archive, '-C', dest]);
    for (const [name, content] of Object.entries(FILES)) expect((await readFile(join(dest, name))).equals(content)).toBe(true);

    const listing = tarOut(['-tzvf', archive]);
    expect(listing).toHaveLength(ORDER.length);
    for (const line of listing) {
      const name = line.replace(/^.*? 1970-01-01 00:00 /, '');
      const expected = name.endsWith('/') ? 'drwxr-xr-x' : name === EXECUTABLE ? '-rwxr-xr-x' : '-rw-r--r--';
      expect(line).toMatch(new RegExp(`^${expected} 0/0 +\\d+ 1970-01-01 00:00 `));
    }
  });

  it('puts every directory before its files, in UTF-8 byte order of the path', async () => {
    const src = await build({ mtime: 1, fileMode: 0o644, dirMode: 0o755 });
    const archive = join(await fresh('out'), 'order.tar.gz');
    await packDirectory(src, archive);
    expect(tarOut(['-tzf', archive])).toEqual(ORDER);
  });

  it('writes a gzip header with mtime 0, no file name and the Unix OS byte', async () => {
    const src = await build({ mtime: 1, fileMode: 0o644, dirMode: 0o755 });
    const archive = join(await fresh('out'), 'header.tar.gz');
    await packDirectory(src, archive);
    const head = (await readFile(archive)).subarray(0, 10);
    expect([...head]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]); // FLG 0: no FNAME; MTIME 0; XFL 0 for level 6
  });

  it('reports progress up to the total of file bytes', async () => {
    const src = await build({ mtime: 1, fileMode: 0o644, dirMode: 0o755 });
    const total = Object.values(FILES).reduce((s, b) => s + b.length, 0);
    const calls: number[][] = [];
    await packDirectory(src, join(await fresh('out'), 'p.tar.gz'), { onProgress: (d, t) => calls.push([d, t]) });
    expect(calls.at(-1)).toEqual([total, total]);
  });

  it('refuses a symlink in the folder and leaves no archive or temporary file', async () => {
    const src = await build({ mtime: 1, fileMode: 0o644, dirMode: 0o755 });
    await symlink('README.md', join(src, 'weights/link.md'));
    const out = join(await fresh('out'), 'bad.tar.gz');
    const e = await packDirectory(src, out).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(AegisError);
    expect(e).toMatchObject({ code: 'VALIDATION_FAILED', field: 'out' });
    expect((e as Error).message).toContain(join(src, 'weights/link.md'));
    await expect(access(out)).rejects.toThrow();
    await expect(access(`${out}.tmp`)).rejects.toThrow();
  });

  it('refuses a FIFO in the folder', async () => {
    const src = await fresh('src');
    execFileSync('mkfifo', [join(src, 'pipe')]);
    await expect(packDirectory(src, join(await fresh('out'), 'f.tar.gz'))).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      field: 'out',
      message: expect.stringMatching(/is a FIFO/),
    });
  });

  it('refuses an archive path whose folder does not exist, leaving nothing behind', async () => {
    const src = await build({ mtime: 1, fileMode: 0o644, dirMode: 0o755 });
    const out = join(base, 'no-such-out-dir', 'x.tar.gz');
    await expect(packDirectory(src, out)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      field: 'out',
      message: expect.stringContaining(`${out}.tmp`),
    });
  });

  it('refuses a missing folder, naming it, and an archive inside the folder it packs', async () => {
    const missing = join(base, 'no-such-folder');
    await expect(packDirectory(missing, join(base, 'x.tar.gz'))).rejects.toMatchObject({
      field: 'out',
      message: `folder to pack does not exist: ${missing}`,
    });
    const src = await build({ mtime: 1, fileMode: 0o644, dirMode: 0o755 });
    await expect(packDirectory(src, join(src, 'self.tar.gz'))).rejects.toMatchObject({
      field: 'out',
      message: expect.stringContaining('must not be inside'),
    });
  });
});
