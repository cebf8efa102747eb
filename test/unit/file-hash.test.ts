/**
 * hashFile (the CLI's file hash, two reused buffers with a read in flight while the other is
 * hashed) answers the sha256 and size of exactly the asked bytes, whatever the chunk size and the
 * range, and refuses a range the file does not hold.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { hashFile } from '../../lib/kernel/file-hash.js';

const dir = mkdtempSync(join(tmpdir(), 'aegis-file-hash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('hashFile', () => {
  it('hashes exactly the asked range, in any chunk size, reporting every byte once', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.nat(),
        fc.option(fc.nat(), { nil: undefined }),
        async (length, chunkBytes, startSeed, sizeSeed) => {
          const bytes = randomBytes(length);
          const path = join(dir, `f${n++}`);
          writeFileSync(path, bytes);
          const start = length === 0 ? 0 : startSeed % (length + 1);
          const size = sizeSeed === undefined ? undefined : sizeSeed % (length - start + 1);
          let reported = 0;
          const got = await hashFile(path, { start, size, chunkBytes, onBytes: (b) => (reported += b) });
          const expected = bytes.subarray(start, size === undefined ? length : start + size);
          expect(got).toEqual({ sha256: sha256(expected), size: expected.length });
          expect(reported).toBe(expected.length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('hashes a file of several default (1 MiB) chunks as createHash does, and an empty file', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const path = join(dir, 'large');
    writeFileSync(path, bytes);
    expect(await hashFile(path)).toEqual({ sha256: sha256(bytes), size: bytes.length });
    writeFileSync(join(dir, 'empty'), '');
    expect(await hashFile(join(dir, 'empty'))).toEqual({ sha256: sha256(new Uint8Array()), size: 0 });
  });

  it('refuses a range the file does not hold, and a missing file', async () => {
    const path = join(dir, 'short');
    writeFileSync(path, randomBytes(100));
    await expect(hashFile(path, { start: 90, size: 20 })).rejects.toThrow(
      `${path} ends at byte 100, before the 20 bytes from 90 asked for`,
    );
    await expect(hashFile(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
