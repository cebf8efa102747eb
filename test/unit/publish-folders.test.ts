import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listFolders, naturalCompare, prepareArtifact } from '../../lib/clients/publish/folders.js';

describe('publish folders', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aegis-folders-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('sorts labels naturally: numbers as numbers, leading zeros after the plain number, text by code unit', () => {
    const labels = ['10', '2', 'v10', 'v9', '1', '02', 'b', 'B', 'v1.10', 'v1.9'];
    expect(labels.sort(naturalCompare)).toEqual(['1', '2', '02', '10', 'B', 'b', 'v1.9', 'v1.10', 'v9', 'v10']);
  });

  it('lists <model>/<label> folders in natural order, ignoring hidden entries and loose files', async () => {
    for (const p of ['m/10', 'm/2', 'a/1', '.git/x', 'm/.hidden']) await mkdir(join(dir, p), { recursive: true });
    await writeFile(join(dir, 'README.md'), 'x');
    await writeFile(join(dir, 'm', 'notes.txt'), 'x');
    expect((await listFolders(dir)).map((f) => f.name)).toEqual(['a/1', 'm/2', 'm/10']);
  });

  it('refuses a folder with no artifact or with two, naming the folder and the files', async () => {
    await mkdir(join(dir, 'm/1'), { recursive: true });
    await writeFile(join(dir, 'm/1/manifest.json'), '{}');
    const [folder] = await listFolders(dir);
    await expect(prepareArtifact(folder!, dir)).rejects.toThrow(
      'm/1: expected one artifact (a file or a folder) beside manifest.json, found none',
    );
    await writeFile(join(dir, 'm/1/a.bin'), 'a');
    await writeFile(join(dir, 'm/1/b.bin'), 'b');
    await expect(prepareArtifact(folder!, dir)).rejects.toThrow('found a.bin, b.bin');
  });
});
