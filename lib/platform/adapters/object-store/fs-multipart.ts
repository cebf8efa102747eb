/**
 * The filesystem store's multipart uploads: `<root>/multipart/<segment>/…/<segment>/@parts/`
 * holds `upload.json` (the upload is in progress) and each received part as `<n>.bin` with its
 * `<n>.json` (size and sha256, written last: what makes the part count). Completing streams the
 * parts, in order, into an ordinary version of the key, hashed on the way like any upload.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PutOptions, UploadedPart } from '../../ports/object-store.js';
import { DurableFileWriter } from './fs-durable-writer.js';
import { isEnoent } from './fs-versions.js';
import { HashMeter, assertPartNumber, assertPartsComplete, noMultipart } from './rules.js';

const PARTS_DIR = '@parts';
const MARKER = 'upload.json';

export class FsMultipartParts {
  constructor(private readonly root: string) {}

  #dir(key: string): string {
    return join(this.root, 'multipart', ...key.split('/'), PARTS_DIR);
  }

  async start(key: string): Promise<void> {
    const dir = this.#dir(key);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, MARKER), JSON.stringify({ key, startedAt: new Date().toISOString() }), { flag: 'w' });
  }

  async inProgress(key: string): Promise<boolean> {
    try {
      await readFile(join(this.#dir(key), MARKER));
      return true;
    } catch (e) {
      if (isEnoent(e)) return false;
      throw e;
    }
  }

  /** Streams one part to a temp file (hashed and counted), makes it durable, then renames it in. */
  async put(
    key: string,
    partNumber: number,
    body: Readable,
    opts: Pick<PutOptions, 'expectedSize' | 'expectedSha256'>,
  ): Promise<UploadedPart> {
    assertPartNumber(partNumber);
    if (!(await this.inProgress(key))) throw noMultipart(key);
    const dir = this.#dir(key);
    const tmp = join(dir, `.${partNumber}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const meter = new HashMeter(opts.expectedSize, opts.expectedSha256);
      await pipeline(body, meter, new DurableFileWriter(await open(tmp, 'wx')));
      const part: UploadedPart = { partNumber, size: meter.bytesSeen, sha256: meter.sha256 };
      await rename(tmp, join(dir, `${partNumber}.bin`));
      await writeFile(join(dir, `${partNumber}.json`), JSON.stringify(part), { flush: true });
      return part;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async list(key: string): Promise<UploadedPart[] | undefined> {
    if (!(await this.inProgress(key))) return undefined;
    const dir = this.#dir(key);
    const names = (await readdir(dir)).filter((n) => /^\d+\.json$/.test(n));
    const parts = await Promise.all(names.map(async (n) => JSON.parse(await readFile(join(dir, n), 'utf8')) as UploadedPart));
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  /** Parts 1..partCount in order, as one stream, after checking they are all there and add up to `expectedSize`. */
  async joined(key: string, opts: { partCount: number; expectedSize: number }): Promise<Readable> {
    const parts = await this.list(key);
    if (!parts) throw noMultipart(key);
    const used = assertPartsComplete(parts, opts);
    const dir = this.#dir(key);
    // one file after the other from a generator: piping each into one stream would add listeners per part
    async function* bytes() {
      for (const p of used) yield* createReadStream(join(dir, `${p.partNumber}.bin`), { highWaterMark: 1024 * 1024 });
    }
    return Readable.from(bytes(), { objectMode: false });
  }

  async abort(key: string): Promise<void> {
    await rm(this.#dir(key), { recursive: true, force: true });
  }
}
