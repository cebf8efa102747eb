/**
 * Event subscriptions survive a rebuild: rebuild-index restores each webhook (its id, URL,
 * filters, author and dates, deleted ones staying deleted) from its subscription.* events, but
 * not its secret (never chained) nor its deliveries (operational). On the rebuilt registry, new
 * events for a restored webhook wait until an admin sets a secret, then go out, signed with it.
 */
import { existsSync } from 'node:fs';
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckedConfig } from '../../lib/platform/config.js';
import { openRecoveryTarget } from '../../lib/platform/composition/recovery.js';
import { diffSnapshots, registrySnapshot, type Difference } from '../../lib/recovery/parity.js';
import { rebuildIndex, type RebuildReport } from '../../lib/recovery/rebuild.js';
import { startStack, type Stack } from '../support/local-stack.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver.js';
import { openTarget, recoveryDeps } from './support.js';

let source: Stack;
let rebuilt: Stack | undefined;
let live: Receiver;
let gone: Receiver;
let report: RebuildReport;
let diffs: Difference[];
const ids: Record<'live' | 'gone', string> = { live: '', gone: '' };
const EVENTS = ['dataset.*', 'promotion.rolled_back'];

const dataset = (stack: Stack, id: string) =>
  stack.api('POST', '/v1/datasets', { id, version: 'v1', checksum: `sha256:${'e'.repeat(64)}`, uri: `s3://data/${id}` });

async function subscribe(receiver: Receiver, description?: string): Promise<string> {
  const res = await source.api('POST', '/v1/webhooks', { url: receiver.url, events: EVENTS, ...(description && { description }) });
  expect(res.status).toBe(201);
  receiver.secret = res.body.secret;
  return res.body.webhook.subscriptionId;
}

beforeAll(async () => {
  [live, gone] = [await startReceiver(), await startReceiver()];
  source = await startStack();
  ids.live = await subscribe(live, 'data team');
  ids.gone = await subscribe(gone);
  expect((await source.api('DELETE', `/v1/webhooks/${ids.gone}`)).status).toBe(200);
  expect((await dataset(source, 'before-rebuild')).status).toBe(201);
  await live.until((events) => events.some((e) => e.type === 'dataset.registered'));
  await source.container.auditTrail.archive();

  // storage only (objects, audit archive, key files) into a fresh folder; rebuild into a migrated-only database there
  const dir = await mkdtemp(join(tmpdir(), 'aegis-rebuild-events-'));
  for (const part of ['objects', 'audit-archive', 'keys'])
    if (existsSync(join(source.dataDir, part))) await cp(join(source.dataDir, part), join(dir, part), { recursive: true });
  const config = loadCheckedConfig({ DEV_ALLOW_EPHEMERAL: 'true', AEGIS_DATA_DIR: dir, PORT: '0', NODE_ENV: 'test' });
  const target = await openRecoveryTarget(config);
  try {
    report = await rebuildIndex(target.deps);
    diffs = diffSnapshots(await registrySnapshot(source.container.database), await registrySnapshot(target.container.database));
  } finally {
    await target.close();
  }
  rebuilt = await startStack({}, { dataDir: dir });
}, 240_000);

afterAll(async () => {
  await rebuilt?.stop();
  await source?.stop();
  await Promise.all([live?.close(), gone?.close()]);
});

it('restores the webhooks without their secrets, says so, and parity finds no difference', async () => {
  expect(report.problems).toEqual([]);
  expect(report.warnings).toContainEqual(
    expect.stringMatching(new RegExp(`^1 webhook\\(s\\) restored without their secret.*: ${ids.live}$`)),
  );
  expect(report.notRestored).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^event deliveries \(delivery state is not part of the chain\)/),
      expect.stringMatching(/^webhook secrets/),
    ]),
  );
  expect(diffs).toEqual([]);
  const restored = await rebuilt!.api('GET', `/v1/webhooks/${ids.live}`);
  expect(restored.status).toBe(200);
  const original = (await source.api('GET', `/v1/webhooks/${ids.live}`)).body;
  expect(restored.body).toMatchObject({
    subscriptionId: ids.live,
    kind: 'webhook',
    target: live.url,
    description: 'data team',
    events: original.events,
    createdBy: original.createdBy,
    createdAt: original.createdAt,
    hasSecret: false,
    pending: 0,
    dead: 0,
    lastDeliveredAt: null,
  });
  expect(original.hasSecret).toBe(true);
  expect([...restored.body.events].sort()).toEqual(EVENTS);
});

it('keeps a deleted webhook deleted', async () => {
  expect((await rebuilt!.api('GET', `/v1/webhooks/${ids.gone}`)).status).toBe(404);
  const listed = (await rebuilt!.api('GET', '/v1/webhooks')).body.items.map((w: { subscriptionId: string }) => w.subscriptionId);
  expect(listed).toEqual([ids.live]);
  const row = await rebuilt!.container.database.db
    .selectFrom('event_subscriptions')
    .select(['deleted_at', 'secret'])
    .where('subscription_id', '=', ids.gone)
    .executeTakeFirstOrThrow();
  expect(row.deleted_at).not.toBeNull();
  expect(row.secret).toBeNull();
});

it('holds new deliveries of a restored webhook until a secret is set, then sends them signed with it; nothing goes to the deleted one', async () => {
  const before = { live: live.deliveries.length, gone: gone.deliveries.length };
  expect((await dataset(rebuilt!, 'after-rebuild')).status).toBe(201);
  // the dispatch job runs every second: a few runs go by and the delivery still waits
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  expect(live.deliveries).toHaveLength(before.live);
  const waiting = (await rebuilt!.api('GET', `/v1/webhooks/${ids.live}/deliveries`)).body.items;
  expect(waiting).toEqual([expect.objectContaining({ eventType: 'dataset.registered', status: 'pending', attempts: 0 })]);
  expect((await rebuilt!.api('GET', `/v1/webhooks/${ids.live}`)).body).toMatchObject({ pending: 1, hasSecret: false });

  const set = await rebuilt!.api('POST', `/v1/webhooks/${ids.live}/secret`, {});
  expect(set.status).toBe(200);
  expect(set.body.secret).not.toBe(live.secret);
  live.secret = set.body.secret;
  const events = await live.until((got) => got.some((e) => e.type === 'dataset.registered' && e.seq === waiting[0].seq));
  const sent = live.deliveries.slice(before.live);
  expect(sent.map((d) => [d.body.type, d.signed, d.answered])).toEqual([['dataset.registered', true, 204]]);
  // what was delivered before the rebuild is not sent again
  expect(events.filter((e) => e.type === 'dataset.registered')).toHaveLength(2);
  expect((await rebuilt!.api('GET', `/v1/webhooks/${ids.live}`)).body).toMatchObject({ pending: 0, hasSecret: true });
  expect(gone.deliveries).toHaveLength(before.gone);
});

it('refuses a target that holds outbox rows (a used database), naming the table', async () => {
  const target = await openTarget();
  try {
    await target.db
      .insertInto('event_deliveries')
      .values({
        subscription_id: ids.live,
        seq: 1,
        event_type: 'dataset.registered',
        status: 'pending',
        attempts: 0,
        next_attempt_at: new Date(),
        created_at: new Date(),
      })
      .execute();
    await expect(rebuildIndex(recoveryDeps(source, target))).rejects.toMatchObject({
      code: 'TARGET_NOT_EMPTY',
      message: expect.stringContaining('1 event_deliveries'),
    });
  } finally {
    await target.close();
  }
});
