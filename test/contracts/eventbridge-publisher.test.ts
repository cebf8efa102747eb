/**
 * The EventBridgePublisher against moto_server's EventBridge: what reaches the bus is read back
 * through a rule whose target is an SQS queue, as a consumer's rule would route it.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import type { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { eventHash, eventStatement, type AuditEvent } from '../../lib/kernel/audit-chain.js';
import { verifyRaw } from '../../lib/kernel/signatures.js';
import { entrySize, EVENTBRIDGE_MAX_BYTES, EventBridgePublisher } from '../../lib/platform/adapters/event-delivery/eventbridge.js';
import { motoEventBridge, tapBus, type BusTap } from '../support/moto-events.js';
import { startMoto, type Moto } from '../support/moto.js';
import { describeUnless, NO_MOTO } from '../support/unavailable.js';

const REGION = 'eu-west-1';
const BUS = 'aegis-test-events';
const moto: Moto | undefined = await startMoto();

const auditKey = generateKeyPairSync('ed25519');
const publicKeyB64 = auditKey.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');

/** A real audit event of the chain, signed with a real Ed25519 key. */
function signed(seq: number, payload: Record<string, unknown> = { datasetId: `d-${seq}` }, type = 'dataset.registered'): AuditEvent {
  const unsigned = {
    seq,
    eventId: `0193c0de-0000-7000-8000-${String(seq).padStart(12, '0')}`,
    type: type as AuditEvent['type'],
    actor: 'alice',
    subject: `datasets/d-${seq}`,
    payload,
    ts: new Date(Date.UTC(2026, 11, 1, 3, 0, seq)).toISOString(),
    prevHash: '1'.repeat(64),
    signerId: 'audit-signer-v1',
  };
  const hash = eventHash(unsigned);
  return { ...unsigned, hash, signature: sign(null, eventStatement(seq, hash), auditKey.privateKey).toString('base64') };
}

/** The moto client, keeping each PutEvents call's entries. */
function recordingClient() {
  const client = motoEventBridge(moto!.endpoint, REGION);
  const calls: number[][] = [];
  return {
    calls,
    client: {
      send: (command: PutEventsCommand) => {
        calls.push((command.input.Entries ?? []).map((e) => (JSON.parse(e.Detail!) as { seq: number }).seq));
        return client.send(command);
      },
    } as unknown as EventBridgePublisherClient,
  };
}
type EventBridgePublisherClient = ConstructorParameters<typeof EventBridgePublisher>[0]['client'];

/** An event whose entry is exactly `size` bytes as EventBridge counts them. */
function eventOfSize(seq: number, size: number): AuditEvent {
  const base = signed(seq, { blob: '' });
  const publisher = new EventBridgePublisher({ busName: BUS, client: { send: async () => ({}) } as never });
  const pad = size - entrySize(publisher.entry(base));
  return signed(seq, { blob: 'x'.repeat(pad) });
}

describeUnless(moto ? undefined : NO_MOTO, 'EventBridgePublisher (moto_server)', () => {
  let tap: BusTap;
  beforeAll(async () => {
    tap = await tapBus(moto!.endpoint, REGION, BUS);
  });
  afterAll(async () => {
    await moto?.stop();
  });
  afterEach(async () => {
    await tap.drain();
  });

  it('publishes each event whole (source aegis, its type as detail-type, its time), in order, at most 10 entries a call', async () => {
    const { client, calls } = recordingClient();
    const events = Array.from({ length: 23 }, (_, i) => signed(i + 1));
    const outcomes = await new EventBridgePublisher({ busName: BUS, client }).publish(events);
    expect(outcomes.map((o) => o.ok)).toEqual(events.map(() => true));
    expect(calls.map((c) => c.length)).toEqual([10, 10, 3]);
    expect(calls.flat()).toEqual(events.map((e) => e.seq));
    const delivered = await tap.drain();
    expect(delivered.map((d) => d.detail.seq)).toEqual(events.map((e) => e.seq));
    for (const [i, d] of delivered.entries()) {
      expect(d.source).toBe('aegis');
      expect(d['detail-type']).toBe('dataset.registered');
      expect(new Date(d.time).getTime()).toBe(new Date(events[i]!.ts).getTime());
      // the detail is the event as the chain holds it: its hash and signature verify with the audit key
      expect(d.detail).toEqual(events[i]);
      const e = d.detail as unknown as AuditEvent;
      expect(eventHash(e)).toBe(e.hash);
      expect(verifyRaw('ed25519', publicKeyB64, eventStatement(e.seq, e.hash), e.signature)).toBe(true);
    }
  });

  it('measures an entry as EventBridge does: 14 bytes of Time, then the UTF-8 bytes of source, detail-type, detail and resources', () => {
    // 7 characters, 8 bytes: é is two in UTF-8
    expect(entrySize({ Source: 'aegis', DetailType: 'a.b', Detail: '{"é":1}' })).toBe(5 + 3 + 8);
    expect(entrySize({ Time: new Date(), Source: 'aegis', DetailType: 'a.b', Detail: '{}', Resources: ['arn:x'] })).toBe(
      14 + 5 + 3 + 2 + 5,
    );
  });

  it('sends an event over the 256 KB entry limit as its header with a fetch route; one exactly at the limit whole', async () => {
    const { client, calls } = recordingClient();
    const atLimit = eventOfSize(40, EVENTBRIDGE_MAX_BYTES);
    const over = eventOfSize(41, EVENTBRIDGE_MAX_BYTES + 1);
    const outcomes = await new EventBridgePublisher({ busName: BUS, client }).publish([atLimit, over]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
    // each alone in its call: the two together pass the 256 KB a call may hold
    expect(calls).toEqual([[40], [41]]);
    const [whole, header] = await tap.drain();
    expect(whole!.detail).toEqual(atLimit);
    const { payload: _dropped, ...rest } = over;
    expect(header!.detail).toEqual({ ...rest, truncated: true, fetch: '/v1/audit?cursor=40&limit=1' });
    expect(header!['detail-type']).toBe('dataset.registered');
    // the header still carries what a consumer verifies once it fetched the event
    expect(verifyRaw('ed25519', publicKeyB64, eventStatement(41, over.hash), header!.detail.signature as string)).toBe(true);
  });

  it('fills a call up to 256 KB: three 100 KB events go in two calls', async () => {
    const { client, calls } = recordingClient();
    const events = [50, 51, 52].map((seq) => eventOfSize(seq, 100 * 1024));
    expect((await new EventBridgePublisher({ busName: BUS, client }).publish(events)).every((o) => o.ok)).toBe(true);
    expect(calls).toEqual([[50, 51], [52]]);
    expect((await tap.drain()).map((d) => d.detail.seq)).toEqual([50, 51, 52]);
  });

  it('maps a malformed entry to a failure that is not retryable, and sends no later call', async () => {
    const { client, calls } = recordingClient();
    const events = [...Array.from({ length: 10 }, (_, i) => signed(60 + i)), signed(70)];
    // no detail-type: EventBridge refuses the entry (InvalidArgument)
    events[2] = signed(62, {}, '');
    const outcomes = await new EventBridgePublisher({ busName: BUS, client }).publish(events);
    expect(outcomes[2]).toMatchObject({ ok: false, retryable: false, error: expect.stringContaining('InvalidArgument') });
    expect(outcomes.slice(0, 2).every((o) => o.ok)).toBe(true);
    // the second call (seq 70) is not made: its event waits behind the failed one
    expect(calls).toHaveLength(1);
    expect(outcomes[10]).toMatchObject({ ok: false, retryable: true, error: 'not sent: an earlier entry failed' });
    expect((await tap.drain()).map((d) => d.detail.seq)).not.toContain(62);
  });

  it('maps throttled and internal failures of entries to retryable ones', async () => {
    const client = {
      send: async () => ({
        FailedEntryCount: 2,
        Entries: [{ EventId: 'e1' }, { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }, { ErrorCode: 'InternalFailure' }],
      }),
    } as unknown as EventBridgePublisherClient;
    const outcomes = await new EventBridgePublisher({ busName: BUS, client }).publish([signed(80), signed(81), signed(82)]);
    expect(outcomes.map((o) => [o.ok, o.retryable])).toEqual([
      [true, false],
      [false, true],
      [false, true],
    ]);
    expect(outcomes[1]!.error).toBe('PutEvents refused the entry (ThrottlingException): Rate exceeded');
  });

  it('fails every event retryably when the call itself fails (a bus that does not exist)', async () => {
    const client = motoEventBridge(moto!.endpoint, REGION);
    const outcomes = await new EventBridgePublisher({ busName: 'no-such-bus', client }).publish([signed(90), signed(91)]);
    expect(outcomes).toHaveLength(2);
    for (const o of outcomes) expect(o).toMatchObject({ ok: false, retryable: true, error: expect.stringMatching(/^PutEvents failed \(/) });
  });
});
