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

  it('writes at a position, leaving the bytes before and after it as they were', async () => {
    const file = join(dir, 'positioned.bin');
    await (await open(file, 'wx')).writeFile(Buffer.alloc(1_000_000, 7));
    const middle = Buffer.concat([...patternChunks(300_000, 'p')]);
    const fh = await open(file, 'r+');
    await pipeline(Readable.from(patternChunks(300_000, 'p')), new DurableFileWriter(fh, { batchBytes: 65_536, position: 400_000 }));
    const after = await readFile(file);
    expect(after.length).toBe(1_000_000);
    expect(sha(after)).toBe(sha(Buffer.concat([Buffer.alloc(400_000, 7), middle, Buffer.alloc(300_000, 7)])));
  });

  it('fails the stream when its last batch, written after the stream has ended, fails, and closes the file', async () => {
    const file = join(dir, 'readonly.bin');
    await (await open(file, 'wx')).close();
    const fh = await open(file, 'r'); // every write fails
    await expect(
      pipeline(Readable.from(patternChunks(65_536, 'r')), new DurableFileWriter(fh, { batchBytes: 65_536 })),
    ).rejects.toMatchObject({ code: 'EBADF' });
    expect(fh.fd).toBe(-1);
    expect((await readFile(file)).length).toBe(0);
  });
});
