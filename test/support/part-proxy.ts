import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';

/**
 * What the proxy does to the next PUT of a part instead of passing it on: `drop` loses the
 * connection (no answer), `unavailable` answers 503, `expired` answers as the local server does
 * for an expired part URL (410 UPLOAD_EXPIRED), `corrupt` passes it on with its first byte
 * changed (the server refuses it: 422 SHA256_MISMATCH).
 */
export type PartFault = 'drop' | 'unavailable' | 'expired' | 'corrupt';

/**
 * An HTTP proxy in front of a local stack, for the CLI's multipart uploads: the CLI talks to it
 * (AEGIS_URL) and the stack's part URLs point at it (AEGIS_PUBLIC_URL), so a test sees every
 * part PUT and parts-route call, injects faults into chosen parts and holds a part back.
 */
export interface PartProxy {
  url: string;
  /** every part PUT that came in, in order of arrival */
  puts: number[];
  /** the parts the server accepted (2xx), in the order it answered */
  received: number[];
  /** the part numbers asked for by each parts-route call, in order */
  asked: number[][];
  /** faults for the next PUTs of a part, used one per PUT */
  faults: Map<number, PartFault[]>;
  /** holds this part's PUT until every part in `after` was received */
  hold: { part: number; after: number[] } | undefined;
  /** forwards to this base URL (the stack's, known once it started) */
  target: string;
  reset(): void;
  close(): Promise<void>;
}

function answer(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export async function startPartProxy(): Promise<PartProxy> {
  const waiting: (() => void)[] = [];
  const wake = () => waiting.splice(0).forEach((w) => w());

  const forward = (req: IncomingMessage, res: ServerResponse, part: number | undefined, body: NodeJS.ReadableStream) => {
    const out = request(`${proxy.target}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
      if (part !== undefined && up.statusCode! < 300) {
        proxy.received.push(part);
        wake();
      }
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    body.pipe(out);
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const partParam = url.searchParams.get('part');
    if (req.method === 'POST' && url.pathname.endsWith('/parts')) {
      // a parts-route call: note which parts it asks for, pass the same bytes on
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        proxy.asked.push((JSON.parse(raw.toString()) as { parts: { partNumber: number }[] }).parts.map((p) => p.partNumber));
        const replay = new Transform({ transform: (c, _e, cb) => cb(null, c) });
        forward(req, res, undefined, replay);
        replay.end(raw);
      });
      return;
    }
    if (req.method !== 'PUT' || partParam === null) return forward(req, res, undefined, req);
    const part = Number(partParam);
    proxy.puts.push(part);
    const fault = proxy.faults.get(part)?.shift();
    if (fault === 'drop') return req.socket.destroy();
    if (fault === 'unavailable' || fault === 'expired') {
      req.resume();
      req.on('end', () =>
        fault === 'unavailable'
          ? answer(res, 503, { message: 'Service Unavailable' })
          : answer(res, 410, { error: { code: 'UPLOAD_EXPIRED', message: 'upload URL has expired', field: 'url' } }),
      );
      return;
    }
    let first = true;
    const body = new Transform({
      transform(chunk: Buffer, _e, cb) {
        if (fault === 'corrupt' && first) chunk = Buffer.concat([Buffer.from([chunk[0]! ^ 0xff]), chunk.subarray(1)]);
        first = false;
        cb(null, chunk);
      },
    });
    req.pipe(body);
    const go = () => forward(req, res, part, body);
    const held = proxy.hold;
    if (held?.part !== part) return go();
    const check = () => (held.after.every((p) => proxy.received.includes(p)) ? go() : waiting.push(check));
    check();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const proxy: PartProxy = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    puts: [],
    received: [],
    asked: [],
    faults: new Map(),
    hold: undefined,
    target: '',
    reset() {
      this.puts = [];
      this.received = [];
      this.asked = [];
      this.faults = new Map();
      this.hold = undefined;
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return proxy;
}
