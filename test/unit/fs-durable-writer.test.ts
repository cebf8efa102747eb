import { createHash } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DurableFileWriter } from '../../lib/platform/adapters/object-store/fs-durable-writer.js';
import { patternChunks } from '../contracts/object-store.contract.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aegis-durable-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('DurableFileWriter', () => {
  it('writes every byte in order across batches and background syncs, then closes the file', async () => {
    const size = 3 * 1024 * 1024 + 12_345;
    const file = join(dir, 'whole.bin');
    const fh = await open(file, 'wx');
    await pipeline(Readable.from(patternChunks(size, 'w')), new DurableFileWriter(fh, { batchBytes: 100_000, syncEveryBytes: 300_000 }));
    expect(fh.fd).toBe(-1); // closed
    const written = await readFile(file);
    expect(written.length).toBe(size);
    expect(sha(written)).toBe(sha(Buffer.concat([...patternChunks(size, 'w')])));
  });

  it('writes an empty stream as an empty file', async () => {
    const file = join(dir, 'empty.bin');
    const fh = await open(file, 'wx');
    await pipeline(Readable.from([]), new DurableFileWriter(fh));
    expect((await readFile(file)).length).toBe(0);
    expect(fh.fd).toBe(-1);
  });

  it('closes the file when the stream before it fails', async () => {
    const fh = await open(join(dir, 'failed.bin'), 'wx');
    async function* failing() {
      yield Buffer.alloc(200_000, 1);
      throw new Error('connection reset');
    }
    const writer = new DurableFileWriter(fh, { batchBytes: 65_536 });
    const closed = new Promise((resolve) => writer.once('close', resolve));
    await expect(pipeline(Readable.from(failing()), writer)).rejects.toThrow('connection reset');
    await closed;
    expect(fh.fd).toBe(-1);
  });
});
