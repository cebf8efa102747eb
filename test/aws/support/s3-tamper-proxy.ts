import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An S3 endpoint in front of moto_server that can make stored bytes "change": once a key is
 * armed, every GET of that object answers with one byte flipped (and without the stored
 * checksum headers, as if whoever edited the bytes had fixed those too). S3 versions cannot
 * be edited through the API, and the registry pins version ids, so this is how the suite
 * shows that Aegis's own hashing catches storage that lies.
 */
export async function startS3TamperProxy(
  motoEndpoint: string,
): Promise<{ endpoint: string; tamper(bucket: string, key: string): void; stop(): Promise<void> }> {
  const target = new URL(motoEndpoint);
  const armed = new Set<string>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const flip = req.method === 'GET' && armed.has(path);
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        if (!flip || (up.statusCode ?? 500) >= 300) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          if (body.length > 0) body[body.length >> 1]! ^= 0x01;
          const headers = Object.fromEntries(Object.entries(up.headers).filter(([k]) => !k.startsWith('x-amz-checksum')));
          res.writeHead(up.statusCode ?? 200, { ...headers, 'content-length': String(body.length) });
          res.end(body);
        });
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    tamper: (bucket, key) => void armed.add(`/${bucket}/${key}`),
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
