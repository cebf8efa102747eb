/**
 * The filesystem store's multipart uploads: `<root>/multipart/<segment>/…/<segment>/@parts/`
 * holds `upload.json` (the upload is in progress, with its part size), `upload.bin` (the whole
 * object, each part written at its offset (partNumber − 1) × partBytes as it arrives) and each
 * received part's `<n>.json` (size and sha256, written once the part's bytes are durable: what
 * makes the part count). Completing hashes `upload.bin` once and links it in as a version: the
 * bytes are written once. An upload started without a part size (before the store learnt it)
 * keeps each part in its own `<n>.bin`, and completing streams them, in order, into a version.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AegisError } from '../../../kernel/errors.js';
import { hashFile } from '../../../kernel/file-hash.js';
import type { PutOptions, UploadedPart } from '../../ports/object-store.js';
import { DurableFileWriter } from './fs-durable-writer.js';
import { KeyLocks, isEnoent } from './fs-versions.js';
import { HashMeter, assertPartNumber, assertPartsComplete, noMultipart } from './rules.js';

const PARTS_DIR = '@parts';
const MARKER = 'upload.json';
const DATA = 'upload.bin';
const READ_BYTES = 1024 * 1024;

interface Marker {
  key: string;
  startedAt: string;
  /** every part but the last has this size, and starts at (partNumber − 1) × partBytes of {@link DATA} */
  partBytes?: number;
}

/** The whole object of a multipart upload, assembled where its parts were written. */
export interface Assembled {
  path: string;
  size: number;
  sha256: string;
}

type PartOptions = Pick<PutOptions, 'expectedSize' | 'expectedSha256'>;

export class FsMultipartParts {
  // one write of a given part at a time: a part sent again waits for the copy in flight
  readonly #partLocks = new KeyLocks();

  constructor(private readonly root: string) {}

  #dir(key: string): string {
    return join(this.root, 'multipart', ...key.split('/'), PARTS_DIR);
  }

  /** Starts an upload; with `partBytes` its parts are written in place into one file. */
  async start(key: string, partBytes?: number): Promise<void> {
    const dir = this.#dir(key);
    await mkdir(dir, { recursive: true });
    if (partBytes !== undefined) await (await open(join(dir, DATA), 'w')).close();
    const marker: Marker = { key, startedAt: new Date().toISOString(), ...(partBytes !== undefined && { partBytes }) };
    await writeDurably(dir, MARKER, JSON.stringify(marker));
  }

  async #marker(key: string): Promise<Marker | undefined> {
    try {
      return JSON.parse(await readFile(join(this.#dir(key), MARKER), 'utf8')) as Marker;
    } catch (e) {
      if (isEnoent(e)) return undefined;
      throw e;
    }
  }

  async inProgress(key: string): Promise<boolean> {
    return (await this.#marker(key)) !== undefined;
  }

  /**
   * Stores part `partNumber` (hashed and counted as it arrives), made durable before its record
   * is written. A part sent again goes beside the received copy first, so bytes that fail their
   * check leave the received part as it was; SIZE_MISMATCH / SHA256_MISMATCH name the part.
   */
  async put(key: string, partNumber: number, body: Readable, opts: PartOptions): Promise<UploadedPart> {
    assertPartNumber(partNumber);
    const marker = await this.#marker(key);
    if (!marker) throw noMultipart(key);
    const { partBytes } = marker;
    if (partBytes !== undefined && !(opts.expectedSize !== undefined && opts.expectedSize <= partBytes))
      throw new AegisError('VALIDATION_FAILED', `part ${partNumber}: the parts of this upload have at most ${partBytes} bytes`, {
        field: 'size',
        details: { partNumber },
      });
    try {
      if (partBytes === undefined) return await this.#putFile(key, partNumber, body, opts);
      return await this.#partLocks.run(`${key}\n${partNumber}`, () => this.#putInPlace(key, partNumber, partBytes, body, opts));
    } catch (e) {
      if (e instanceof AegisError && (e.code === 'SHA256_MISMATCH' || e.code === 'SIZE_MISMATCH'))
        throw new AegisError(e.code, `part ${partNumber}: ${e.message}`, {
          ...(e.field !== undefined && { field: e.field }),
          details: { ...e.details, partNumber },
        });
      throw e;
    }
  }

  async #putInPlace(key: string, partNumber: number, partBytes: number, body: Readable, opts: PartOptions): Promise<UploadedPart> {
    const dir = this.#dir(key);
    const previous = await readRecord(join(dir, `${partNumber}.json`));
    const position = (partNumber - 1) * partBytes;
    const meter = new HashMeter(opts.expectedSize, opts.expectedSha256);
    // opened first: an upload already completed (its file a version's bytes) is refused before any record changes
    const fh = await openData(dir, key);
    let writer: DurableFileWriter | undefined; // closes the file once it ends or fails
    try {
      if (!previous) {
        // nothing received there: a copy that fails its check leaves bytes no record counts
        await pipeline(body, meter, (writer = new DurableFileWriter(fh, { position })));
      } else {
        const tmp = join(dir, `.${partNumber}.${randomBytes(6).toString('hex')}.tmp`);
        try {
          await pipeline(body, meter, new DurableFileWriter(await open(tmp, 'wx')));
          if (meter.sha256 === previous.sha256 && meter.bytesSeen === previous.size) return previous;
          // other bytes: the part stops counting until they are in place and durable
          await unlink(join(dir, `${partNumber}.json`));
          await syncDir(dir);
          const copy = createReadStream(tmp, { highWaterMark: READ_BYTES });
          await pipeline(copy, (writer = new DurableFileWriter(fh, { position })));
        } finally {
          await unlink(tmp).catch(() => undefined);
        }
      }
    } finally {
      if (!writer) await fh.close();
    }
    const part: UploadedPart = { partNumber, size: meter.bytesSeen, sha256: meter.sha256 };
    await writeDurably(dir, `${partNumber}.json`, JSON.stringify(part));
    return part;
  }

  /** An upload without a part size: the part streams to a temp file, made durable, then renamed in. */
  async #putFile(key: string, partNumber: number, body: Readable, opts: PartOptions): Promise<UploadedPart> {
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
    const parts = await Promise.all(names.map((n) => readRecord(join(dir, n))));
    return parts.filter((p): p is UploadedPart => p !== undefined).sort((a, b) => a.partNumber - b.partNumber);
  }

  /**
   * The upload's file once parts 1..partCount are all there, of the upload's part size, adding up
   * to `expectedSize` (cut to it, then hashed once with {@link hashFile}); undefined for an upload
   * without a part size, whose parts {@link joined} streams instead.
   */
  async assemble(key: string, opts: { partCount: number; expectedSize: number }): Promise<Assembled | undefined> {
    const marker = await this.#marker(key);
    if (!marker) throw noMultipart(key);
    if (marker.partBytes === undefined) return undefined;
    const used = assertPartsComplete((await this.list(key)) ?? [], opts);
    const odd = used.find((p) => p.partNumber < opts.partCount && p.size !== marker.partBytes);
    if (odd)
      throw new AegisError('VALIDATION_FAILED', `part ${odd.partNumber} has ${odd.size} bytes, not this upload's ${marker.partBytes}`, {
        field: 'partNumber',
        details: { partNumber: odd.partNumber },
      });
    const dir = this.#dir(key);
    const fh = await openData(dir, key);
    try {
      // a part number past the last one may have written beyond the object's end
      if ((await fh.stat()).size !== opts.expectedSize) {
        await fh.truncate(opts.expectedSize);
        await fh.datasync();
      }
    } finally {
      await fh.close();
    }
    const { size, sha256 } = await hashFile(join(dir, DATA), { chunkBytes: READ_BYTES });
    return { path: join(dir, DATA), size, sha256 };
  }

  /** Parts 1..partCount in order, as one stream, after checking they are all there and add up to `expectedSize`. */
  async joined(key: string, opts: { partCount: number; expectedSize: number }): Promise<Readable> {
    const parts = await this.list(key);
    if (!parts) throw noMultipart(key);
    const used = assertPartsComplete(parts, opts);
    const dir = this.#dir(key);
    // one file after the other from a generator: piping each into one stream would add listeners per part
    async function* bytes() {
      for (const p of used) yield* createReadStream(join(dir, `${p.partNumber}.bin`), { highWaterMark: READ_BYTES });
    }
    return Readable.from(bytes(), { objectMode: false });
  }

  async abort(key: string): Promise<void> {
    await rm(this.#dir(key), { recursive: true, force: true });
  }
}

/**
 * The upload's file, open for positioned writes. Once it is linked in as a version (completed,
 * and the parts folder left behind by a crash) it is that version's bytes: no part goes there.
 */
async function openData(dir: string, key: string) {
  let fh;
  try {
    fh = await open(join(dir, DATA), 'r+');
  } catch (e) {
    if (isEnoent(e) || (e as NodeJS.ErrnoException).code === 'EACCES') throw noMultipart(key);
    throw e;
  }
  if ((await fh.stat()).nlink > 1) {
    await fh.close();
    throw noMultipart(key);
  }
  return fh;
}

async function readRecord(path: string): Promise<UploadedPart | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as UploadedPart;
  } catch (e) {
    if (isEnoent(e)) return undefined;
    throw e;
  }
}

/** Writes `name` in `dir` whole or not at all (temp file, flushed, renamed), the rename made durable. */
async function writeDurably(dir: string, name: string, text: string): Promise<void> {
  const tmp = join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, text, { flag: 'wx', flush: true });
    await rename(tmp, join(dir, name));
    await syncDir(dir);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
