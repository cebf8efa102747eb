/**
 * The typed audit-event catalogue: one schema per event type, declared by the module that
 * writes it, checked at append time (nothing half-written when it refuses) and naming how
 * recovery treats the type.
 */
import { AUDIT_EVENT_TYPES } from '../../lib/kernel/audit-chain.js';
import { EVENT_CATALOGUE } from '../../lib/modules/catalogue.js';
import { checkPayload, joinCatalogues } from '../../lib/platform/audit/catalogue.js';
import { MODULE_RESTORES } from '../../lib/recovery/modules.js';
import { startStack, type Stack } from '../support/local-stack.js';

const dataset = {
  id: 'ds',
  version: '1',
  checksum: `sha256:${'a'.repeat(64)}`,
  uri: 'file:///ds',
  schema: null,
  createdAt: '2026-11-29T00:00:00.000Z',
};

describe('the event catalogue', () => {
  it('has one schema for every audit event type, and no type the chain does not name', () => {
    expect(Object.keys(EVENT_CATALOGUE).sort()).toEqual([...AUDIT_EVENT_TYPES].sort());
  });

  it('says for every type which part of recovery restores it, or why none does', () => {
    for (const [type, spec] of Object.entries(EVENT_CATALOGUE)) {
      const how = 'restoredBy' in spec.restore ? spec.restore.restoredBy : spec.restore.notRestored;
      expect([type, how.length > 10]).toEqual([type, true]);
    }
    expect(
      Object.entries(EVENT_CATALOGUE)
        .filter(([, s]) => 'notRestored' in s.restore)
        .map(([t]) => t)
        .sort(),
    ).toEqual([
      'artifact.download_issued',
      'promotion.abort_requested',
      'promotion.approval_refused',
      'quarantine.approval_refused',
      'serving.refused',
      'subscription.secret_set',
      'token.created',
      'token.revoked',
      'token.rotated',
    ]);
  });

  it('has a module restore reading every type it says is restored, and none reading a type it says is not', () => {
    const restoredBy = Object.entries(EVENT_CATALOGUE)
      .filter(([, s]) => 'restoredBy' in s.restore)
      .map(([t]) => t);
    const read = MODULE_RESTORES.flatMap((m) => m.restores.map((type) => [type, m.module] as const));
    expect([...new Set(read.map(([t]) => t))].sort()).toEqual(restoredBy.sort());
    // the end of a rollout is read by both: the promotion signs it off, the rollout settles its route and trace
    expect(read.filter(([t]) => read.filter(([u]) => u === t).length > 1).sort()).toEqual([
      ['promotion.applied', 'promotion'],
      ['promotion.applied', 'rollout'],
      ['promotion.failed', 'promotion'],
      ['promotion.failed', 'rollout'],
      ['promotion.rolled_back', 'promotion'],
      ['promotion.rolled_back', 'rollout'],
    ]);
  });

  it('refuses a type declared by two modules', () => {
    expect(() => joinCatalogues({ a: EVENT_CATALOGUE['token.created']! }, { a: EVENT_CATALOGUE['token.created']! })).toThrow(
      'audit event type a is declared twice',
    );
  });

  it('accepts a payload that matches its schema exactly, and names what is wrong with one that does not', () => {
    expect(() => checkPayload(EVENT_CATALOGUE, 'dataset.registered', dataset)).not.toThrow();
    expect(() => checkPayload(EVENT_CATALOGUE, 'dataset.renamed', dataset)).toThrow('audit event type dataset.renamed has no schema');
    expect(() => checkPayload(EVENT_CATALOGUE, 'dataset.registered', { ...dataset, checksum: '' })).toThrow(
      'audit event dataset.registered: payload checksum:',
    );
    expect(() => checkPayload(EVENT_CATALOGUE, 'dataset.registered', { ...dataset, owner: 'x' })).toThrow('not in the schema: owner;');
    // a default the schema would fill in means writer and reader disagree about the stored bytes
    const key = { kid: 'k1', purpose: 'approver', alg: 'ed25519', publicKey: 'AAAA', backend: 'external', notBefore: dataset.createdAt };
    expect(() => checkPayload(EVENT_CATALOGUE, 'key.enrolled', { key })).toThrow('defaulted by it: key.notAfter, key.owner');
    expect(() => checkPayload(EVENT_CATALOGUE, 'key.enrolled', { key: { ...key, notAfter: null, owner: null } })).not.toThrow();
  });
});

describe('appending through the catalogue', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const head = async () => Number((await stack.container.database.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq);

  it('refuses a payload its schema does not describe, and the transaction writes nothing', async () => {
    const before = await head();
    const db = stack.container.database.db;
    const err = await db
      .transaction()
      .execute(async (tx) => {
        await tx
          .insertInto('datasets')
          .values({
            ...{ dataset_id: 'half', version: '1', checksum: dataset.checksum, uri: dataset.uri, schema: null },
            created_by: 't',
            created_at: new Date(),
          })
          .execute();
        await stack.container.audit.append(tx, {
          type: 'dataset.registered',
          actor: 't',
          subject: 'dataset:half@1',
          payload: { id: 'half' },
        });
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('audit event dataset.registered: payload version') });
    expect(await head()).toBe(before);
    expect(await db.selectFrom('datasets').select('dataset_id').where('dataset_id', '=', 'half').execute()).toEqual([]);
  });

  it('appends what the writers write: the events of a registration parse against their schemas', async () => {
    const reg = await stack.api('POST', '/v1/datasets', { id: 'cat', version: '1', checksum: dataset.checksum, uri: dataset.uri });
    expect(reg.status).toBe(201);
    const events = (await stack.api('GET', '/v1/audit?subject=dataset:cat@1')).body.items as {
      type: string;
      payload: Record<string, unknown>;
    }[];
    expect(events.map((e) => e.type)).toEqual(['dataset.registered']);
    expect(() => checkPayload(EVENT_CATALOGUE, events[0]!.type, events[0]!.payload)).not.toThrow();
  });
});
