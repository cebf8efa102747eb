/**
 * The sha256 of the drift baseline (`baseline.json` at the root of an artifact's `.tar.gz`),
 * found while the artifact bytes are hashed: one pass, the archive never unpacked to disk or
 * held in memory. A manifest's `baselineSha256` is checked against it, so a baseline cannot be
 * swapped inside a registered artifact.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Gunzip } from 'fflate';
import type { BaselineEvidence } from './verification.js';

export const BASELINE_FILE = 'baseline.json';
const BLOCK = 512;
/** pax and GNU long-name records are metadata: anything larger is not a sane archive */
const MAX_META_BYTES = 1024 * 1024;

/** What an artifact says about its baseline: the sha256 of its `baseline.json`, or why there is none. */
export interface ArtifactBaseline {
  /** null: no `baseline.json` at the root, or not a readable `.tar.gz` (see `problem`) */
  sha256: string | null;
  problem?: string;
}

class TarError extends Error {}

const text = (b: Buffer, from: number, to: number): string => {
  const end = b.indexOf(0, from);
  return b.toString('utf8', from, end >= 0 && end < to ? end : to);
};

function octal(b: Buffer, from: number, to: number): number {
  if ((b[from]! & 0x80) !== 0) {
    // base-256 (GNU), for sizes past 8 GiB
    let v = 0;
    for (let i = from + 1; i < to; i += 1) v = v * 256 + b[i]!;
    return v;
  }
  const s = text(b, from, to).trim();
  const v = s === '' ? 0 : parseInt(s, 8);
  if (!Number.isSafeInteger(v) || !/^[0-7]*$/.test(s)) throw new TarError(`bad size field ${JSON.stringify(s)}`);
  return v;
}

/** `path` of a pax extended header (records `len key=value\n`), if any. */
function paxPath(body: Buffer): string | undefined {
  let path: string | undefined;
  for (let off = 0; off < body.length;) {
    const space = body.indexOf(0x20, off);
    const len = parseInt(body.toString('utf8', off, space), 10);
    if (space < 0 || !Number.isSafeInteger(len) || len <= 0) throw new TarError('bad pax record');
    const record = body.toString('utf8', space + 1, off + len - 1);
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    off += len;
  }
  return path;
}

/** A streaming ustar/pax/GNU reader that hashes the regular file `baseline.json` at the root. */
class TarScanner {
  #pending: Buffer = Buffer.alloc(0);
  #remaining = 0;
  #padding = 0;
  #sink: Hash | Buffer[] | undefined;
  #kind: 'file' | 'meta' | 'skip' = 'skip';
  #metaType = '';
  #nextName: string | undefined;
  #found: string[] = [];
  #ended = false;

  push(chunk: Uint8Array): void {
    const buf = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    let off = 0;
    while (!this.#ended) {
      if (this.#remaining > 0) {
        const n = Math.min(this.#remaining, buf.length - off);
        if (n === 0) break;
        const part = buf.subarray(off, off + n);
        if (this.#sink instanceof Array) this.#sink.push(Buffer.from(part));
        else this.#sink?.update(part);
        this.#remaining -= n;
        off += n;
        if (this.#remaining === 0) this.#endEntry();
      } else if (this.#padding > 0) {
        const n = Math.min(this.#padding, buf.length - off);
        if (n === 0) break;
        this.#padding -= n;
        off += n;
      } else if (buf.length - off >= BLOCK) {
        this.#header(buf.subarray(off, off + BLOCK));
        off += BLOCK;
      } else break;
    }
    this.#pending = Buffer.from(buf.subarray(off));
  }

  #header(h: Buffer): void {
    if (h.every((x) => x === 0)) {
      this.#ended = true;
      return;
    }
    let sum = 0;
    for (let i = 0; i < BLOCK; i += 1) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== octal(h, 148, 156)) throw new TarError('header checksum mismatch');
    const type = String.fromCharCode(h[156]!);
    const size = octal(h, 124, 136);
    const prefix = text(h, 257, 263).startsWith('ustar') ? text(h, 345, 500) : '';
    const name = this.#nextName ?? (prefix ? `${prefix}/${text(h, 0, 100)}` : text(h, 0, 100));
    this.#remaining = size;
    this.#padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (type === 'x' || type === 'L' || type === 'g') {
      if (size > MAX_META_BYTES) throw new TarError(`a ${size}-byte metadata record`);
      [this.#kind, this.#metaType, this.#sink] = ['meta', type, []];
    } else {
      this.#nextName = undefined;
      const isBaseline = (type === '0' || type === '\0') && name.replace(/^(\.\/)+/, '') === BASELINE_FILE;
      [this.#kind, this.#sink] = isBaseline ? ['file', createHash('sha256')] : ['skip', undefined];
    }
    if (size === 0) this.#endEntry();
  }

  #endEntry(): void {
    if (this.#kind === 'file') this.#found.push((this.#sink as Hash).digest('hex'));
    else if (this.#kind === 'meta') {
      const body = Buffer.concat(this.#sink as Buffer[]);
      if (this.#metaType === 'L') this.#nextName = text(body, 0, body.length);
      else if (this.#metaType === 'x') this.#nextName = paxPath(body) ?? this.#nextName;
    }
    [this.#kind, this.#sink] = ['skip', undefined];
  }

  result(): ArtifactBaseline {
    if (!this.#ended && (this.#remaining > 0 || this.#pending.length > 0)) return { sha256: null, problem: 'the archive is truncated' };
    if (this.#found.length > 1) return { sha256: null, problem: `the archive holds ${BASELINE_FILE} ${this.#found.length} times` };
    return this.#found.length ? { sha256: this.#found[0]! } : { sha256: null, problem: `the archive has no ${BASELINE_FILE} at its root` };
  }
}

/** Feeds gzip bytes to a {@link TarScanner}; the first failure stops scanning and is kept. */
export class BaselineScanner {
  readonly #tar = new TarScanner();
  #problem: string | undefined;
  readonly #gz = new Gunzip((chunk) => this.#tar.push(chunk));

  push(chunk: Uint8Array, final = false): void {
    if (this.#problem !== undefined) return;
    try {
      this.#gz.push(chunk, final);
    } catch (e) {
      this.#problem = e instanceof TarError ? `not a tar archive: ${e.message}` : `not a gzip archive: ${(e as Error).message}`;
    }
  }

  result(): ArtifactBaseline {
    return this.#problem !== undefined ? { sha256: null, problem: this.#problem } : this.#tar.result();
  }
}

/**
 * sha256 and size of an artifact stream and, with `baseline: true`, its {@link ArtifactBaseline}
 * from the same pass (gunzip costs CPU, so only when a manifest pins a baseline).
 */
export async function hashArtifact(
  stream: Readable,
  opts: {
    baseline: boolean;
    /** told the bytes hashed so far each time `every` more bytes are hashed (awaited: the read waits for it) */
    progress?: { every: number; report: (bytes: number) => Promise<void> };
  },
): Promise<{ sha256: string; size: number; baseline?: ArtifactBaseline }> {
  const h = createHash('sha256');
  const scanner = opts.baseline ? new BaselineScanner() : undefined;
  let size = 0;
  let reported = 0;
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    size += buf.length;
    h.update(buf);
    scanner?.push(buf);
    if (opts.progress && size - reported >= opts.progress.every) {
      reported = size;
      await opts.progress.report(size);
    }
  }
  scanner?.push(new Uint8Array(0), true);
  return { sha256: h.digest('hex'), size, ...(scanner ? { baseline: scanner.result() } : {}) };
}

/** The evidence `verifyManifest` checks for an artifact's baseline. */
export const artifactEvidence = (b: ArtifactBaseline): BaselineEvidence => ({
  sha256: b.sha256,
  source: 'artifact',
  from: `${BASELINE_FILE} in the artifact`,
  ...(b.problem === undefined ? {} : { problem: b.problem }),
});
