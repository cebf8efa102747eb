/**
 * One POST over node:http(s), for webhooks: a fresh connection each time (no pooled socket
 * skips the address check), the host resolved through a hook that refuses a bad address at
 * connect time, no redirects followed, one timer over the whole exchange, and at most
 * `MAX_ANSWER_BYTES` of the answer read.
 */
import type { LookupAddress, LookupOneOptions } from 'node:dns';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';

/** Enough of an answer to say why a receiver refused; the rest is never read. */
export const MAX_ANSWER_BYTES = 1024;

/** Resolves a host name to every address it has (`dns.lookup` with `all: true`). */
export type ResolveHost = (hostname: string) => Promise<readonly LookupAddress[]>;

/** The connection was not made: the host resolved to an address the rules refuse. */
export class AddressRefusedError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** The whole exchange took longer than its budget. */
export class PostTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
  }
}

export interface PostRequest {
  url: URL;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** the resolver and the rules the connection's addresses must pass (`addresses(host, list)` → refusal or null) */
  resolve: ResolveHost;
  refuse: (host: string, addresses: readonly string[]) => string | null;
  /** extra trust anchors for https (tests, a private CA) */
  ca?: string | Buffer;
}

export interface PostAnswer {
  status: number;
  /** the `location` header of a redirect, which is not followed */
  location?: string;
  /** the start of the answer's body (at most `MAX_ANSWER_BYTES` bytes), as text */
  text: string;
}

/** The `lookup` net.connect calls for a host name: every address must pass, else the connection never opens. */
export function guardedLookup(resolve: ResolveHost, refuse: PostRequest['refuse']): LookupFunction {
  return (hostname, options, callback) => {
    const fail = (err: Error) => callback(err as NodeJS.ErrnoException, '', 0);
    void resolve(hostname).then((all) => {
      const why = refuse(
        hostname,
        all.map((a) => a.address),
      );
      if (why) return fail(new AddressRefusedError(why));
      const family = (options as LookupOneOptions).family;
      const wanted = family === 4 || family === 6 ? all.filter((a) => a.family === family) : [...all];
      const first = wanted[0];
      if (!first) return fail(Object.assign(new Error(`${hostname} has no IPv${String(family)} address`), { code: 'ENOTFOUND' }));
      // net.connect asks for every address (`all: true`) when it races IPv4 and IPv6 (autoSelectFamily), else for one.
      if ((options as { all?: boolean }).all) callback(null, wanted);
      else callback(null, first.address, first.family);
    }, fail);
  };
}

function readCapped(res: IncomingMessage, done: (answer: PostAnswer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    const location = res.headers.location;
    const text = Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8');
    done({ status: res.statusCode ?? 0, ...(location !== undefined ? { location } : {}), text });
    // An answer cut short: drop the connection rather than read a body of any size.
    if (!res.complete) res.destroy();
  };
  res.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_ANSWER_BYTES) finish();
  });
  res.on('end', finish);
  res.on('error', finish);
  res.on('close', finish);
}

/** Sends one POST and resolves to the receiver's answer; rejects with the network error, `PostTimeoutError` or `AddressRefusedError`. */
export function postOnce(req: PostRequest): Promise<PostAnswer> {
  return new Promise<PostAnswer>((resolvePromise, rejectPromise) => {
    const secure = req.url.protocol === 'https:';
    const options: RequestOptions & { ca?: string | Buffer } = {
      method: 'POST',
      hostname: req.url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: req.url.port === '' ? undefined : Number(req.url.port),
      path: `${req.url.pathname}${req.url.search}`,
      headers: { ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) },
      agent: false,
      lookup: guardedLookup(req.resolve, req.refuse),
      ...(secure && req.ca !== undefined ? { ca: req.ca } : {}),
    };
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    let answered = false;
    const r = (secure ? httpsRequest : httpRequest)(options, (res) => {
      answered = true;
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) return readCapped(res, (answer) => settle(() => resolvePromise(answer)));
      // Delivered: what a receiver says after a 2xx changes nothing, and a body that never ends must not hold the socket.
      settle(() => resolvePromise({ status, text: '' }));
      res.destroy();
    });
    const timer = setTimeout(() => {
      const err = new PostTimeoutError(req.timeoutMs);
      settle(() => rejectPromise(err));
      r.destroy(err);
    }, req.timeoutMs);
    r.on('error', (err) => settle(() => rejectPromise(err)));
    // Once the head is in, the answer's own end (or close) settles.
    r.on('close', () => {
      if (!answered) settle(() => rejectPromise(new Error('the connection closed before an answer')));
    });
    r.end(req.body);
  });
}
