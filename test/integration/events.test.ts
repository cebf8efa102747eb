/**
 * Issue 24, events out: a webhook gets every event of a register → promote → rollback flow in
 * chain order, signed (HMAC over the body, the event's own Ed25519 signature inside), at least
 * once; a failing receiver gets everything once it recovers; dead letters are listed and
 * replayed; the long poll follows the chain. Real HTTP both ways, real PGlite, real keys.
 */
import { randomBytes } from 'node:crypto';
import { eventHash, eventStatement, type AuditEvent } from '../../lib/kernel/audit-chain.js';
import { verifyRaw } from '../../lib/kernel/signatures.js';
import { ScriptedJudge, settled, ShiftedClock } from '../promotion/support.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver.js';

const judge = new ScriptedJudge();
const clock = new ShiftedClock();
let stack: Stack;
const receivers: Receiver[] = [];

beforeAll(async () => {
  // retries in tens of ms, four attempts before the dead letters
  stack = await startStack({ AEGIS_EVENT_RETRY_BASE_MS: '40', AEGIS_EVENT_MAX_ATTEMPTS: '4' }, { judge, waitMs: 5, clock });
});
afterAll(async () => {
  await stack?.stop();
  await Promise.all(receivers.map((r) => r.close()));
});

/**
 * A receiver and its subscription. The receiver holds the secret before the subscription exists: its
 * first delivery (the subscription's own creation, for `*`) may come before the reply. With
 * `generated`, Aegis makes the secret (only for subscriptions whose first event comes later).
 */
async function subscribe(events: string[], body: Record<string, unknown> = {}, opts: { generated?: boolean } = {}) {
  const receiver = await startReceiver();
  receivers.push(receiver);
  const secret = opts.generated ? undefined : ((body.secret as string | undefined) ?? `receiver-secret-${randomBytes(12).toString('hex')}`);
  if (secret) receiver.secret = secret;
  const res = await stack.api('POST', '/v1/webhooks', { url: receiver.url, events, ...body, ...(secret && { secret }) });
  expect(res.status).toBe(201);
  if (opts.generated) {
    expect(res.body.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    receiver.secret = res.body.secret;
  } else expect(res.body.secret).toBeUndefined();
  return { receiver, id: res.body.webhook.subscriptionId as string, created: res.body.webhook };
}

const head = async () => Number((await stack.container.database.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq);
const chain = async (after: number): Promise<AuditEvent[]> => (await stack.api('GET', `/v1/audit?cursor=${after}&limit=1000`)).body.items;

async function registered(model: string) {
  const r = await uploadAndRegister(stack, model, randomBytes(700));
  expect(r.status).toBe(201);
  return r.body.artifactId as string;
}
const promote = (artifactId: string, targetEnv: string, body: Record<string, unknown> = {}) =>
  stack.api('POST', `/v1/registry/${artifactId}/promote`, { targetEnv, reason: 'events test', ...body });

describe('webhooks', () => {
  it('get every event of register → promote → rollback in chain order, HMAC and Ed25519 verified, a redelivery deduplicated', async () => {
    const before = await head();
    const { receiver, id } = await subscribe(['*']);
    const a = await registered('events-flow');
    expect((await settled(stack, (await promote(a, 'staging')).body.promotionId)).status).toBe('succeeded');
    // the next delivery is read, then refused: it is sent again, and the receiver keeps it once
    receiver.fail(1);
    const b = await registered('events-flow');
    judge.script.push('fail');
    const canary = await promote(b, 'canary', { canary: { percent: 10, steps: 1, windowSeconds: 1 } });
    expect((await settled(stack, canary.body.promotionId)).status).toBe('rolled_back');

    const last = await head();
    const expected = await chain(before);
    expect(expected.map((e) => e.type)).toEqual(
      expect.arrayContaining(['subscription.created', 'artifact.registered', 'promotion.applied', 'promotion.rolled_back']),
    );
    const got = await receiver.until((events) => events.length >= expected.length && events[events.length - 1]!.seq === last);
    expect(got).toEqual(expected);
    expect(receiver.deliveries.filter((d) => d.answered === 500)).toHaveLength(1);
    const redelivered = receiver.deliveries.find((d) => d.answered === 500)!;
    expect(
      receiver.deliveries.filter((d) => d.body.eventId === redelivered.body.eventId).map((d) => d.headers['x-aegis-delivery-attempt']),
    ).toEqual(['1', '2']);
    expect(receiver.deliveries.every((d) => d.signed)).toBe(true);
    for (const d of receiver.deliveries) {
      expect(d.headers).toMatchObject({
        'x-aegis-event-id': d.body.eventId,
        'x-aegis-event-type': d.body.type,
        'x-aegis-event-seq': String(d.body.seq),
        'content-type': 'application/json',
      });
    }
    // each event verifies on its own against the key ring, and links to the one before
    const keys = new Map<string, { alg: 'ed25519'; publicKey: string }>(
      (await stack.api('GET', '/v1/keys')).body.keys.map((k: { kid: string; alg: 'ed25519'; publicKey: string }) => [k.kid, k]),
    );
    got.forEach((e, i) => {
      expect(eventHash(e)).toBe(e.hash);
      const key = keys.get(e.signerId)!;
      expect(verifyRaw(key.alg, key.publicKey, eventStatement(e.seq, e.hash), e.signature)).toBe(true);
      if (i > 0) expect(e.prevHash).toBe(got[i - 1]!.hash);
    });
    const listed = (await stack.api('GET', `/v1/webhooks/${id}`)).body;
    expect(listed).toMatchObject({ subscriptionId: id, kind: 'webhook', events: ['*'], hasSecret: true, pending: 0, dead: 0 });
    expect(listed.lastDeliveredAt).not.toBeNull();
  });

  it('a receiver that fails three times then recovers gets everything, in order; only the types it asked for', async () => {
    const before = await head();
    const { receiver } = await subscribe(['promotion.*', 'artifact.registered'], { secret: 'a-secret-of-the-receiver-0123' });
    receiver.fail(3, 503);
    const a = await registered('events-retry');
    expect((await settled(stack, (await promote(a, 'staging')).body.promotionId)).status).toBe('succeeded');
    const expected = (await chain(before)).filter((e) => e.type.startsWith('promotion.') || e.type === 'artifact.registered');
    const got = await receiver.until((events) => events.length === expected.length);
    expect(got).toEqual(expected);
    // the first event was attempted four times (three refusals), the rest once each, in order
    expect(receiver.deliveries.map((d) => d.answered)).toEqual([503, 503, 503, ...expected.map(() => 204)]);
  });

  it('sends a delivery refused past AEGIS_EVENT_MAX_ATTEMPTS to the dead letters, then on; a replay sends it again', async () => {
    const { receiver, id } = await subscribe(['dataset.registered']);
    receiver.fail(4);
    const ds = (n: number) =>
      stack.api('POST', '/v1/datasets', { id: `events-ds-${n}`, version: '1', checksum: `sha256:${'a'.repeat(64)}`, uri: 's3://x/y' });
    expect((await ds(1)).status).toBe(201);
    expect((await ds(2)).status).toBe(201);
    const [second] = await receiver.until((events) => events.length === 1);
    expect(second!.payload).toMatchObject({ id: 'events-ds-2' });
    const dead = (await stack.api('GET', `/v1/webhooks/${id}/deliveries?status=dead`)).body.items;
    expect(dead).toEqual([expect.objectContaining({ eventType: 'dataset.registered', status: 'dead', attempts: 4, lastStatus: 500 })]);
    expect((await stack.api('GET', `/v1/webhooks/${id}`)).body).toMatchObject({ dead: 1, pending: 0 });

    const replay = await stack.api('POST', `/v1/webhooks/${id}/replay`, {});
    expect(replay.body).toEqual({ requeued: 1 });
    const events = await receiver.until((e) => e.length === 2);
    expect(events.map((e) => e.payload.id)).toEqual(['events-ds-2', 'events-ds-1']);
    expect((await stack.api('GET', `/v1/webhooks/${id}`)).body).toMatchObject({ dead: 0, pending: 0 });
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toMatch(/^ai_infra_event_deliveries_total\{kind="webhook",outcome="dead"\} 1$/m);
    expect(metrics).toMatch(/^ai_infra_event_deliveries_total\{kind="webhook",outcome="failed"\} [1-9]\d*$/m);
  });

  it('test-fires, rotates the secret, deletes (nothing more is sent), all admin-only and audited without the secret', async () => {
    const { receiver, id } = await subscribe(['dataset.registered'], {}, { generated: true });
    const fired = await stack.api('POST', `/v1/webhooks/${id}/test`);
    expect(fired.body).toMatchObject({ ok: true, status: 204, error: null });
    expect(receiver.deliveries[0]!.headers['x-aegis-test']).toBe('true');
    expect(receiver.deliveries[0]!.body).toMatchObject({ test: true, type: 'subscription.test' });

    const rotated = await stack.api('POST', `/v1/webhooks/${id}/secret`, {});
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect((await stack.api('POST', `/v1/webhooks/${id}/test`)).body).toMatchObject({ ok: false, status: 401 });
    receiver.secret = rotated.body.secret;
    expect((await stack.api('POST', `/v1/webhooks/${id}/test`)).body).toMatchObject({ ok: true });

    const reader = (await stack.api('POST', '/v1/tokens', { principal: 'events-reader', role: 'auditor' })).body.token;
    expect((await stack.api('GET', '/v1/webhooks', undefined, { token: reader })).status).toBe(403);
    expect((await stack.api('POST', '/v1/webhooks', { url: receiver.url, events: ['*'] }, { token: reader })).status).toBe(403);

    expect((await stack.api('DELETE', `/v1/webhooks/${id}`)).body).toEqual({ subscriptionId: id, deleted: true });
    expect((await stack.api('GET', `/v1/webhooks/${id}`)).status).toBe(404);
    expect((await stack.api('DELETE', `/v1/webhooks/${id}`)).status).toBe(404);
    const count = receiver.deliveries.length;
    await stack.api('POST', '/v1/datasets', {
      id: 'events-after-delete',
      version: '1',
      checksum: `sha256:${'b'.repeat(64)}`,
      uri: 's3://x/z',
    });
    await stack.container.eventDispatcher.run();
    expect(receiver.deliveries).toHaveLength(count);

    const audited = (await chain(0)).filter((e) => e.subject === `subscription:${id}`);
    expect(audited.map((e) => e.type)).toEqual(['subscription.created', 'subscription.secret_set', 'subscription.deleted']);
    expect(JSON.stringify(audited)).not.toContain(receiver.secret);
    expect(JSON.stringify(audited)).not.toContain('whsec_');
  });

  it('refuses bad subscriptions with 400 naming the field, and stores nothing', async () => {
    const before = (await stack.api('GET', '/v1/webhooks')).body.items.length;
    const cases: [Record<string, unknown>, string][] = [
      [{ events: ['*'] }, 'url'],
      [{ url: 'ftp://example.com/x', events: ['*'] }, 'url'],
      [{ url: 'https://user:pw@example.com/x', events: ['*'] }, 'url'],
      [{ url: 'http://10.1.2.3/hook', events: ['*'] }, 'url'],
      [{ url: 'http://169.254.169.254/latest/meta-data', events: ['*'] }, 'url'],
      [{ url: 'http://127.0.0.1:9/x', events: [] }, 'events'],
      [{ url: 'http://127.0.0.1:9/x', events: ['promotion.nothing'] }, 'events[0]'],
      [{ url: 'http://127.0.0.1:9/x', events: ['*', 'nothing.*'] }, 'events[1]'],
      [{ url: 'http://127.0.0.1:9/x', events: ['Promotion'] }, 'events.0'],
      [{ url: 'http://127.0.0.1:9/x', events: ['*'], secret: 'short' }, 'secret'],
      [{ url: 'http://127.0.0.1:9/x', events: ['*'], format: 'teams' }, 'format'],
      [{ url: 'http://127.0.0.1:9/x', events: ['*'], extra: 1 }, 'extra'],
    ];
    for (const [body, field] of cases) {
      const res = await stack.api('POST', '/v1/webhooks', body);
      expect([body, res.status, res.body.error?.field]).toEqual([body, 400, field]);
    }
    expect((await stack.api('GET', '/v1/webhooks')).body.items).toHaveLength(before);
    expect((await stack.api('GET', '/v1/webhooks/nope')).body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'id' });
  });
});

describe('delivery retention', () => {
  it('deletes delivered deliveries a week after, keeps the dead ones', async () => {
    const { receiver, id } = await subscribe(['dataset.registered']);
    receiver.fail(4);
    for (const n of [1, 2])
      await stack.api('POST', '/v1/datasets', {
        id: `retention-${n}`,
        version: '1',
        checksum: `sha256:${'9'.repeat(64)}`,
        uri: 's3://x/r',
      });
    await receiver.until((e) => e.length === 1);
    const statuses = async () =>
      (await stack.api('GET', `/v1/webhooks/${id}/deliveries`)).body.items.map((d: { status: string }) => d.status);
    expect(await statuses()).toEqual(['delivered', 'dead']);
    clock.advance(6 * 86_400_000);
    await stack.container.eventDispatcher.run();
    expect(await statuses()).toEqual(['delivered', 'dead']);
    clock.advance(2 * 86_400_000);
    await stack.container.eventDispatcher.run();
    expect(await statuses()).toEqual(['dead']);
  });
});

describe('GET /v1/events (the long poll)', () => {
  it('answers the events after a seq of the types asked, and waits for the next one when there is none', async () => {
    const from = await head();
    await stack.api('POST', '/v1/datasets', { id: 'tail-1', version: '1', checksum: `sha256:${'c'.repeat(64)}`, uri: 's3://x/t1' });
    const past = await stack.api('GET', `/v1/events?after=${from}&type=dataset.*&wait=0`);
    expect(past.body.items.map((e: AuditEvent) => e.payload.id)).toEqual(['tail-1']);
    const cursor = past.body.cursor as number;
    expect(cursor).toBe(await head());

    const t0 = Date.now();
    const waiting = stack.api('GET', `/v1/events?after=${cursor}&type=dataset.registered&wait=10`);
    await new Promise((r) => setTimeout(r, 300));
    await stack.api('POST', '/v1/datasets', { id: 'tail-2', version: '1', checksum: `sha256:${'d'.repeat(64)}`, uri: 's3://x/t2' });
    const next = await waiting;
    expect(next.body.items.map((e: AuditEvent) => e.payload.id)).toEqual(['tail-2']);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);

    // nothing new: an empty answer after the wait, the cursor unmoved
    const idle = await stack.api('GET', `/v1/events?after=${next.body.cursor}&wait=1`);
    expect(idle.body).toEqual({ items: [], cursor: next.body.cursor });
  });

  it('refuses bad queries naming the field, and callers without an audit role', async () => {
    expect((await stack.api('GET', '/v1/events?type=nothing.*&wait=0')).body.error).toMatchObject({ field: 'query.type[0]' });
    expect((await stack.api('GET', '/v1/events?wait=26')).body.error).toMatchObject({ field: 'query.wait' });
    expect((await stack.api('GET', '/v1/events?after=-1')).body.error).toMatchObject({ field: 'query.after' });
    const publisher = (await stack.api('POST', '/v1/tokens', { principal: 'events-pub', role: 'publisher' })).body.token;
    expect((await stack.api('GET', '/v1/events?wait=0', undefined, { token: publisher })).status).toBe(403);
  });
});

describe('the event bus subscription (the AWS migrate step ensures it)', () => {
  it('is created once, kept when the name is the same, replaced (audited) when the stack renames its bus, any number of times', async () => {
    const events = stack.container.events;
    const first = await events.ensureBus('deploy', 'aegis-test-events');
    expect(first).toMatchObject({ subscriptionId: 'bus', kind: 'bus', target: 'aegis-test-events', events: ['*'], hasSecret: false });
    expect((await events.ensureBus('deploy', 'aegis-test-events')).subscriptionId).toBe('bus');
    const renamed = await events.ensureBus('deploy', 'aegis-test-events-2');
    const again = await events.ensureBus('deploy', 'aegis-test-events-3');
    expect([renamed.subscriptionId, again.subscriptionId]).toEqual([expect.stringMatching(/^bus_/), expect.stringMatching(/^bus_/)]);
    const buses = (await stack.api('GET', '/v1/webhooks')).body.items.filter((s: { kind: string }) => s.kind === 'bus');
    expect(buses.map((b: { target: string }) => b.target)).toEqual(['aegis-test-events-3']);
    // the bus is no webhook: its secret, test and deletion are refused
    expect((await stack.api('DELETE', `/v1/webhooks/${again.subscriptionId}`)).status).toBe(409);
    const audited = (await chain(0)).filter(
      (e) => e.type.startsWith('subscription.') && String(e.payload.target).startsWith('aegis-test-events'),
    );
    expect(audited.map((e) => e.type)).toEqual([
      'subscription.created',
      'subscription.deleted',
      'subscription.created',
      'subscription.deleted',
      'subscription.created',
    ]);
  });
});
