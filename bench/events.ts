/**
 * Events out, locally: (1) delivery throughput to a local webhook receiver — M dead deliveries
 * replayed at once, until the receiver has them all — against sequential POSTs of the same
 * bodies to the same receiver on a new connection each (what the sender does, in chain order)
 * from this process; (2) the outbox's added latency on registration: p50 of a registration
 * with three webhook subscribers against one with none, interleaved rounds in the same run.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { registerArtifact } from '../lib/clients/http/registration.js';
import { startReceiver, type Receiver } from '../test/support/webhook-receiver.js';
import { envInt, ms, ratio, summarize, table } from './stats.js';
import { manifestFor, startBenchStack, tempDir, removeTree, type BenchStack } from './stack.js';

export const eventsOptionsFromEnv = () => ({
  events: envInt('BENCH_EVENTS', 1000),
  registrations: envInt('BENCH_EVENT_REGISTRATIONS', 20),
  rounds: envInt('BENCH_EVENT_ROUNDS', 3),
});

interface Webhook {
  subscriptionId: string;
  secret: string;
}

const subscribe = async (stack: BenchStack, receiver: Receiver, events: string[]): Promise<Webhook> => {
  const r = await stack.admin.request<{ webhook: { subscriptionId: string }; secret: string }>('POST', '/v1/webhooks', {
    url: receiver.url,
    events,
  });
  receiver.secret = r.secret;
  return { subscriptionId: r.webhook.subscriptionId, secret: r.secret };
};

/** One POST on a new connection, as the sender makes it. */
const post = (url: string, body: string) =>
  new Promise<void>((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', resolve);
      },
    );
    req.on('error', reject);
    req.end(body);
  });

async function throughput(stack: BenchStack, o: ReturnType<typeof eventsOptionsFromEnv>, print: (l: string) => void) {
  const receiver = await startReceiver();
  try {
    // every delivery refused for good (410): dead at once, then replayed all together
    receiver.fail(Number.MAX_SAFE_INTEGER, 410);
    const hook = await subscribe(stack, receiver, ['dataset.registered']);
    for (let i = 0; i < o.events; i++)
      await stack.admin.request('POST', '/v1/datasets', {
        id: `bench-ev-${i}`,
        version: '1',
        checksum: `sha256:${'f'.repeat(64)}`,
        uri: 'file:///bench',
      });
    while ((await stack.container.events.get(hook.subscriptionId)).dead < o.events) await new Promise((r) => setTimeout(r, 50));
    receiver.fail(0);
    const t0 = performance.now();
    await stack.admin.request('POST', `/v1/webhooks/${hook.subscriptionId}/replay`, {});
    await receiver.until((e) => e.length === o.events, 600_000);
    const deliveredMs = performance.now() - t0;
    const bodies = receiver.deliveries.slice(-o.events).map((d) => d.raw);
    const t1 = performance.now();
    for (const b of bodies) await post(receiver.url, b);
    const referenceMs = performance.now() - t1;
    const rate = (n: number, t: number) => `${Math.round(n / (t / 1000))}/s`;
    print(
      table(
        ['measurement', 'events', 'time', 'rate', 'vs reference'],
        [
          ['sequential POSTs, new connection each (reference)', String(o.events), ms(referenceMs), rate(o.events, referenceMs), '1.00×'],
          [
            'webhook deliveries (replay → all received)',
            String(o.events),
            ms(deliveredMs),
            rate(o.events, deliveredMs),
            ratio(referenceMs / deliveredMs),
          ],
        ],
      ),
    );
  } finally {
    await receiver.close();
  }
}

async function outboxLatency(stack: BenchStack, o: ReturnType<typeof eventsOptionsFromEnv>, print: (l: string) => void) {
  const dir = await tempDir('events');
  const receivers = await Promise.all([0, 1, 2].map(() => startReceiver()));
  try {
    let n = 0;
    const registerOne = async () => {
      const bytes = randomBytes(2048);
      const file = join(dir, `a${n}.bin`);
      await writeFile(file, bytes);
      const manifest = manifestFor(`bench-events-${n++}`, createHash('sha256').update(bytes).digest('hex'), bytes.length);
      const t0 = performance.now();
      await registerArtifact(stack.publisher, { modelName: manifest.modelName, artifactPath: file, manifest });
      return performance.now() - t0;
    };
    for (let i = 0; i < 3; i++) await registerOne(); // warm-up
    const none: number[] = [];
    const three: number[] = [];
    for (let round = 0; round < o.rounds; round++) {
      for (let i = 0; i < o.registrations; i++) none.push(await registerOne());
      const hooks = await Promise.all(receivers.map((r) => subscribe(stack, r, ['*'])));
      for (let i = 0; i < o.registrations; i++) three.push(await registerOne());
      for (const h of hooks) await stack.admin.request('DELETE', `/v1/webhooks/${h.subscriptionId}`);
    }
    const [a, b] = [summarize(none), summarize(three)];
    print(
      table(
        ['registration (upload + register)', 'n', 'p50', 'p95', 'p50 vs none'],
        [
          ['no subscribers (reference)', String(a.n), ms(a.p50), ms(a.p95), '1.00×'],
          ['three webhook subscribers (every event)', String(b.n), ms(b.p50), ms(b.p95), ratio(b.p50 / a.p50)],
        ],
      ),
    );
  } finally {
    await Promise.all(receivers.map((r) => r.close()));
    await removeTree(dir);
  }
}

export async function eventsBench(o: ReturnType<typeof eventsOptionsFromEnv>, print: (l: string) => void): Promise<void> {
  print(
    `\n== Events out: ${o.events} webhook deliveries; registration with and without subscribers (${o.rounds} × ${o.registrations} each) ==`,
  );
  const stack = await startBenchStack();
  try {
    await throughput(stack, o, print);
    await outboxLatency(stack, o, print);
  } finally {
    await stack.close();
  }
}
