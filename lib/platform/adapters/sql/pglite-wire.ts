import { Duplex } from 'node:stream';

/**
 * The main thread's end of a session with the PGlite thread (pglite-thread.ts): a socket-like
 * stream for `pg`, speaking PostgreSQL's wire protocol.
 */

/** The bytes of several writes in one fresh buffer, transferred (pg's buffers may share a pool). */
function gather(chunks: readonly Uint8Array[]): ArrayBuffer {
  let size = 0;
  for (const c of chunks) size += c.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out.buffer;
}

const READY_FOR_QUERY = 0x5a; // 'Z': ends every reply to a Sync or a simple query, with the transaction status
const ERROR_RESPONSE = 0x45; // 'E'
const IDLE = 0x49; // 'I': no transaction open
const IN_TRANSACTION = 0x54; // 'T'

/** A simple-query `begin` as `pg` writes it (Kysely's transaction start): 'Q', int32 length 10, `begin\0`. */
function isBegin(c: Uint8Array): boolean {
  return (
    c.byteLength === 11 &&
    c[0] === 0x51 &&
    c[1] === 0 &&
    c[2] === 0 &&
    c[3] === 0 &&
    c[4] === 10 &&
    Buffer.from(c.buffer, c.byteOffset + 5, 5)
      .toString('latin1')
      .toLowerCase() === 'begin' &&
    c[10] === 0
  );
}

/** The server's reply to `begin` when no transaction was open: CommandComplete `BEGIN`, ReadyForQuery `T`. */
const BEGIN_REPLY = Buffer.from([0x43, 0, 0, 0, 10, ...Buffer.from('BEGIN\0', 'latin1'), READY_FOR_QUERY, 0, 0, 0, 5, IN_TRANSACTION]);

/** The transaction status a reply leaves, when it ends with ReadyForQuery. */
function statusAfter(reply: Buffer): number | undefined {
  const at = reply.byteLength - 6;
  return at >= 0 && reply[at] === READY_FOR_QUERY && reply.readInt32BE(at + 1) === 5 ? reply[at + 5] : undefined;
}

/** Where the first ReadyForQuery of a reply ends, and whether an ErrorResponse came before it; -1 without one. */
function firstReady(reply: Buffer): { end: number; failed: boolean } {
  let failed = false;
  for (let at = 0; at + 5 <= reply.byteLength;) {
    const type = reply[at]!;
    const end = at + 1 + reply.readInt32BE(at + 1);
    if (type === ERROR_RESPONSE) failed = true;
    if (type === READY_FOR_QUERY) return { end, failed };
    at = end;
  }
  return { end: -1, failed };
}

/**
 * One wire-protocol connection to the thread, in the shape `pg` expects of a socket (its
 * `stream` option): writes go to the thread, replies are pushed as data. A corked batch
 * (parse, bind, execute, sync) goes in one message.
 *
 * A `begin` sent while no transaction is open is answered at once and travels with the next
 * write, so a transaction costs one hand-off to the thread fewer (~0.9 ms each here); the
 * thread's own reply to it is dropped. Only from the idle state, where `begin` cannot fail short
 * of the database itself failing; should its reply ever hold an error, the session is destroyed.
 */
export class WireStream extends Duplex {
  readonly #send: (bytes: ArrayBuffer) => Error | undefined;
  readonly #onClose: () => void;
  readonly #failure: () => Error | undefined;
  /** the transaction status of the session as the replies so far left it (undefined: not known) */
  #status: number | undefined;
  /** a `begin` answered here, not yet sent */
  #begin: Uint8Array | undefined;
  /** per message sent, in order: whether its reply starts with the reply to a `begin` answered here */
  readonly #replies: boolean[] = [];

  /** `send` answers an error when the thread can take no more (failed or closed). */
  constructor(send: (bytes: ArrayBuffer) => Error | undefined, onClose: () => void, failure: () => Error | undefined) {
    super();
    this.#send = send;
    this.#onClose = onClose;
    this.#failure = failure;
  }

  connect(): void {
    process.nextTick(() => {
      const failed = this.#failure();
      if (failed) this.destroy(failed);
      else this.emit('connect');
    });
  }

  // socket methods pg calls; the thread's liveness is counted by PgliteThread, not per socket
  setNoDelay(): void {}
  setKeepAlive(): void {}
  ref(): void {}
  unref(): void {}

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (e?: Error | null) => void): void {
    if (this.#status === IDLE && !this.#begin && isBegin(chunk)) {
      this.#begin = Uint8Array.from(chunk);
      this.#status = IN_TRANSACTION;
      done();
      this.push(BEGIN_REPLY);
      return;
    }
    done(this.#sendAll([chunk]));
  }

  override _writev(chunks: { chunk: Buffer }[], done: (e?: Error | null) => void): void {
    done(this.#sendAll(chunks.map((c) => c.chunk)));
  }

  #sendAll(chunks: Uint8Array[]): Error | undefined {
    // a session that ends right after its `begin` (a Terminate next) never needs it sent
    const begin = chunks[0]?.[0] === 0x58 ? undefined : this.#begin;
    this.#begin = undefined;
    const failed = this.#send(gather(begin ? [begin, ...chunks] : chunks));
    if (!failed) this.#replies.push(begin !== undefined);
    return failed;
  }

  /** The thread's reply to the oldest message not yet answered. */
  receive(reply: Buffer): void {
    let out = reply;
    if (this.#replies.shift()) {
      const { end, failed } = firstReady(reply);
      if (end < 0 || failed) {
        this.destroy(new Error('PGlite did not begin the transaction'));
        return;
      }
      out = reply.subarray(end);
    }
    if (out.byteLength === 0) return;
    this.#status = statusAfter(out);
    this.push(out);
  }

  override _final(done: (e?: Error | null) => void): void {
    this.push(null); // the client ended the session: the socket closes, as a server's would
    done();
  }

  override _destroy(err: Error | null, done: (e?: Error | null) => void): void {
    this.#onClose();
    done(err);
  }
}
