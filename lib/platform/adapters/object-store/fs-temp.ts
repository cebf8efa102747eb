import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DurableFileWriter, syncFile } from './fs-durable-writer.js';
import { isEnoent } from './fs-versions.js';
import { HashMeter, meterBytes } from './rules.js';

/**
 * A body written to a read-only temp file, metered, not yet durable: {@link durable} fsyncs it
 * (beside its sidecar's fsync), {@link place} renames it to its version's `.bin`, and
 * {@link release} closes what is open and removes the file unless it was placed.
 */
export interface TempBytes {
  size: number;
  sha256: string;
  durable(): Promise<void>;
  place(bin: string): Promise<void>;
  release(): Promise<void>;
}

/** Creates the temp file (mode 0444: only this handle writes it); the folder is made on first use. */
async function create(tmpDir: string): Promise<{ path: string; fh: FileHandle }> {
  const path = join(tmpDir, `${randomBytes(12).toString('hex')}.part`);
  const fh = await open(path, 'wx', 0o444).catch(async (e: unknown) => {
    if (!isEnoent(e)) throw e;
    await mkdir(tmpDir, { recursive: true });
    return open(path, 'wx', 0o444);
  });
  return { path, fh };
}

/**
 * Writes `body` into a new temp file under `tmpDir`, failing (nothing left behind) when its
 * size or sha256 is not the expected one. A body in memory is hashed and written in one call;
 * a stream is hashed as it is written, in batches ({@link DurableFileWriter}).
 */
export async function writeTemp(
  tmpDir: string,
  body: Readable | Uint8Array | string,
  expected: { expectedSize?: number | undefined; expectedSha256?: string | undefined },
): Promise<TempBytes> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body instanceof Uint8Array ? body : undefined;
  const metered = bytes && meterBytes(bytes, expected.expectedSize, expected.expectedSha256); // before any file exists
  const { path, fh } = await create(tmpDir);
  let handleOpen = true;
  let placed = false;
  const close = async () => {
    if (!handleOpen) return;
    handleOpen = false;
    await fh.close();
  };
  try {
    let size: number, sha256: string;
    if (metered) {
      await fh.writeFile(bytes);
      ({ size, sha256 } = metered);
    } else {
      const meter = new HashMeter(expected.expectedSize, expected.expectedSha256);
      handleOpen = false; // the writer closes the handle, whether the stream ends or fails
      await pipeline(body as Readable, meter, new DurableFileWriter(fh, { sync: false }));
      [size, sha256] = [meter.bytesSeen, meter.sha256];
    }
    return {
      size,
      sha256,
      durable: () => (handleOpen ? fh.sync() : syncFile(path)),
      place: (bin) => rename(path, bin).then(() => void (placed = true)),
      release: async () => {
        await close();
        if (!placed) await unlink(path).catch(() => undefined);
      },
    };
  } catch (e) {
    await close();
    await unlink(path).catch(() => undefined);
    throw e;
  }
}
