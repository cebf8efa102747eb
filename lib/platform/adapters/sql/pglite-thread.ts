import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { WireStream } from './pglite-wire.js';

/**
 * The code the database thread runs: it owns one PGlite and answers PostgreSQL wire-protocol
 * bytes with wire-protocol bytes (`execProtocolRaw`). The main thread's `pg` client serialises
 * the queries and parses the replies exactly as against a server, so errors (SQLSTATE, detail,
 * constraint) are the same objects. Evaluated CommonJS: there is no file to find beside a
 * bundle, and `require` of PGlite's CommonJS build by absolute path works from any folder.
 *
 * One message in, one reply out (maybe empty), in order: the main thread counts replies to
 * know when the thread is idle. A new session (a startup packet) or a Terminate ends the
 * previous one as a server would: its open transaction is rolled back.
 */
const THREAD_SOURCE = String.raw`'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglite);
const STARTUP = 0x00; // a startup packet begins with its length's high byte
const TERMINATE = 0x58; // 'X'
const describe = (e) => (e && typeof e.message === 'string' ? e.message : String(e && e.name ? e.name + ' ' + e.status : e));
let db;
let queue = Promise.resolve();
async function endSession() {
  if (db.isInTransaction()) await db.exec('ROLLBACK');
}
async function handle(m) {
  if (m.kind === 'close') {
    await endSession();
    await db.close();
    parentPort.postMessage({ kind: 'closed' });
    return;
  }
  try {
    const bytes = new Uint8Array(m.bytes);
    if (bytes[0] === STARTUP || bytes[0] === TERMINATE) await endSession();
    let out = await db.execProtocolRaw(bytes);
    // a view into PGlite's receive buffer (the startup reply) is copied: the buffer is transferred
    if (out.byteOffset !== 0 || out.byteLength !== out.buffer.byteLength) out = out.slice();
    parentPort.postMessage({ kind: 'wire', session: m.session, bytes: out.buffer }, [out.buffer]);
  } catch (e) {
    parentPort.postMessage({ kind: 'wire-failed', session: m.session, message: describe(e) });
  }
}
(async () => {
  db = new PGlite(workerData.dataDir);
  await db.waitReady;
  parentPort.on('message', (m) => {
    queue = queue.then(() => handle(m));
  });
  parentPort.postMessage({ kind: 'ready' });
})().catch((e) => parentPort.postMessage({ kind: 'failed', message: describe(e) }));
`;

type FromThread =
  | { kind: 'ready' }
  | { kind: 'closed' }
  | { kind: 'failed'; message: string }
  | { kind: 'wire'; session: number; bytes: ArrayBuffer }
  | { kind: 'wire-failed'; session: number; message: string };

/** The entry of PGlite's CommonJS build, found from this module (the repo, a bundle or an installed package). */
export const pgliteEntry = (): string => {
  const require = createRequire(import.meta.url);
  return require.resolve('@electric-sql/pglite');
};

/**
 * PGlite in a worker thread, so that SQL runs beside the main thread's HTTP, JSON and file
 * work. {@link connect} gives a socket-like stream for `pg` (one session at a time, as PGlite
 * has one backend). The thread keeps the process alive only while it owes a reply: an
 * unclosed database does not hang a test run, and a pending query is not cut short.
 *
 * @example
 * const thread = await PgliteThread.start('/data/pg');
 * const pool = new pg.Pool({ max: 1, stream: () => thread.connect() });
 * …
 * await pool.end();
 * await thread.close();
 */
export class PgliteThread {
  readonly #worker: Worker;
  #session = 0;
  #stream: { session: number; socket: WireStream } | undefined;
  #owed = 0;
  #sent = 0;
  #failure: Error | undefined;
  #closing: Promise<void> | undefined;
  #onClosed: (() => void) | undefined;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (m: FromThread) => this.#receive(m));
    worker.on('error', (e) => this.#fail(new Error(`the PGlite thread failed: ${e.message}`)));
    worker.on('exit', (code) => {
      if (!this.#closing) this.#fail(new Error(`the PGlite thread exited (code ${code})`));
      this.#onClosed?.();
    });
  }

  /** Starts the thread and opens PGlite in `dataDir` (an initialised folder), or in memory without one. */
  static async start(dataDir: string | undefined): Promise<PgliteThread> {
    const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { pglite: pgliteEntry(), dataDir } });
    const opened = await new Promise<{ ok: true } | { ok: false; message: string }>((resolve) => {
      const settle = (r: { ok: true } | { ok: false; message: string }) => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        resolve(r);
      };
      const onMessage = (m: FromThread) =>
        settle(m.kind === 'ready' ? { ok: true } : { ok: false, message: 'message' in m ? m.message : m.kind });
      const onError = (e: Error) => settle({ ok: false, message: e.message });
      const onExit = (code: number) => settle({ ok: false, message: `the thread exited (code ${code})` });
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
    if (!opened.ok) {
      await worker.terminate();
      throw new Error(`PGlite could not open ${dataDir ?? 'an in-memory database'}: ${opened.message}`);
    }
    worker.unref();
    return new PgliteThread(worker);
  }

  /** A new session: the stream `pg` connects through (pool option `stream`). */
  connect(): Duplex {
    const session = ++this.#session;
    this.#stream?.socket.destroy(); // PGlite has one backend: a new session replaces the old
    const socket = new WireStream(
      (bytes) => this.#post(session, bytes),
      () => {
        if (this.#stream?.session === session) this.#stream = undefined;
      },
      () => this.#unavailable(),
    );
    this.#stream = { session, socket };
    return socket;
  }

  /** Closes PGlite (its last writes reach the folder) and ends the thread. Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stream?.socket.destroy();
      if (this.#failure) {
        await this.#worker.terminate();
        return;
      }
      this.#worker.ref();
      const closed = new Promise<void>((resolve) => (this.#onClosed = resolve));
      this.#worker.postMessage({ kind: 'close' });
      await closed;
      await this.#worker.terminate();
    })();
    return this.#closing;
  }

  #unavailable(): Error | undefined {
    return this.#failure ?? (this.#closing ? new Error('the PGlite database is closed') : undefined);
  }

  /** Messages sent to the thread so far: one hand-off each (for tests and benches). */
  get sent(): number {
    return this.#sent;
  }

  #post(session: number, bytes: ArrayBuffer): Error | undefined {
    const unavailable = this.#unavailable();
    if (unavailable) return unavailable;
    this.#sent++;
    if (this.#owed++ === 0) this.#worker.ref();
    this.#worker.postMessage({ kind: 'wire', session, bytes }, [bytes]);
    return undefined;
  }

  #receive(m: FromThread): void {
    if (m.kind === 'closed') {
      this.#onClosed?.();
      return;
    }
    if (m.kind !== 'wire' && m.kind !== 'wire-failed') return;
    // idle: the process may exit (a close in progress keeps it alive until the thread is done)
    if (--this.#owed === 0 && !this.#closing) this.#worker.unref();
    const current = this.#stream?.session === m.session ? this.#stream.socket : undefined;
    if (!current) return; // a reply to a session already replaced or destroyed
    if (m.kind === 'wire-failed') current.destroy(new Error(`PGlite failed: ${m.message}`));
    else current.receive(Buffer.from(m.bytes));
  }

  #fail(e: Error): void {
    this.#failure ??= e;
    this.#stream?.socket.destroy(this.#failure);
  }
}
