/**
 * A webhook receiver as a consumer would write one: a real HTTP server on 127.0.0.1 that checks
 * each delivery's HMAC signature, keeps every delivery it got, and answers what the test scripts
 * (`fail(n)`: the next n deliveries get a 500 after being read; the rest 204).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditEvent } from '../../lib/kernel/audit-chain.js';
import { verifyWebhook } from '../../lib/kernel/webhook.js';

export interface Delivery {
  headers: IncomingMessage['headers'];
  raw: string;
  body: AuditEvent & { test?: boolean };
  /** the HMAC signature verified with the secret the receiver holds */
  signed: boolean;
  /** what the receiver answered */
  answered: number;
}

export interface Receiver {
  url: string;
  /** every delivery, in the order received (redeliveries included) */
  deliveries: Delivery[];
  /** the events accepted (2xx), deduplicated by eventId as a consumer must, in the order received */
  events(): AuditEvent[];
  /** the HMAC key to check deliveries with */
  secret: string;
  /** answer the next `n` deliveries with `status` (500 by default) */
  fail(n: number, status?: number): void;
  /** waits until `check` holds over the accepted events (or throws after `ms`) */
  until(check: (events: AuditEvent[]) => boolean, ms?: number): Promise<AuditEvent[]>;
  close(): Promise<void>;
}

export async function startReceiver(path = '/hook'): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  let failures: { n: number; status: number } = { n: 0, status: 500 };
  const r: { secret: string } = { secret: '' };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const header = String(req.headers['x-aegis-signature'] ?? '');
      const signed = r.secret !== '' && verifyWebhook(r.secret, raw, header, { now: new Date() }).ok;
      const answered = failures.n > 0 ? (failures.n--, failures.status) : signed ? 204 : 401;
      deliveries.push({ headers: req.headers, raw, body: JSON.parse(raw) as Delivery['body'], signed, answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  const events = () => {
    const seen = new Set<string>();
    const out: AuditEvent[] = [];
    for (const d of deliveries)
      if (d.answered < 300 && !d.body.test && !seen.has(d.body.eventId)) {
        seen.add(d.body.eventId);
        out.push(d.body);
      }
    return out;
  };
  return {
    url,
    deliveries,
    events,
    get secret() {
      return r.secret;
    },
    set secret(s: string) {
      r.secret = s;
    },
    fail(n, status = 500) {
      failures = { n, status };
    },
    async until(check, ms = 20_000) {
      const deadline = Date.now() + ms;
      while (!check(events())) {
        if (Date.now() > deadline)
          throw new Error(
            `the receiver did not get what was expected in ${ms} ms: ${events()
              .map((e) => `${e.seq}:${e.type}`)
              .join(', ')}`,
          );
        await new Promise((res) => setTimeout(res, 25));
      }
      return events();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
