import { randomBytes } from 'node:crypto';
import { createTestDatabase } from '../support/postgres.js';
import { describeUnless, NO_POSTGRES } from '../support/unavailable.js';
import { startStack, uploadAndRegister, registerDatasets, manifestFor, type Stack } from '../support/local-stack.js';

/** Appends are serialised by the chain head row: concurrent writers never fork the chain (and a process's concurrent registrations commit together). */
// probed before the suite is defined: absent only outside CI, and then reported skipped
const testDb = await createTestDatabase();
let stack: Stack | undefined;

describeUnless(testDb ? undefined : NO_POSTGRES, 'audit chain under concurrency (PostgreSQL server)', () => {
  beforeAll(async () => {
    stack = await startStack({ MODEL_REGISTRY_DATABASE_URL: testDb!.url });
  });
  afterAll(async () => {
    await stack?.stop();
    await testDb?.drop();
  });

  it('leaves one unbroken chain after 50 concurrent registrations', async () => {
    const s = stack!;
    await registerDatasets(s, manifestFor('busy', Buffer.alloc(1)));
    const before = Number((await s.container.database.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => uploadAndRegister(s, i % 2 ? 'busy' : 'busier', randomBytes(512 + i), { datasets: false })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(201));

    const events = await s.container.database.db
      .selectFrom('audit_events')
      .select(['seq', 'type', 'ts'])
      .where('seq', '>', before)
      .orderBy('seq')
      .execute();
    expect(events.filter((e) => e.type === 'artifact.registered')).toHaveLength(50);
    expect(events.filter((e) => e.type === 'manifest.signed')).toHaveLength(50);
    expect(events.map((e) => Number(e.seq))).toEqual(Array.from({ length: 100 }, (_, i) => before + i + 1));
    // registrations committed together (group commit): the events of one append share its timestamp
    expect(new Set(events.map((e) => String(e.ts))).size).toBeLessThan(50);

    const report = (await s.api('GET', '/v1/audit/verify')).body;
    expect(report).toMatchObject({ ok: true, firstBreak: null, headSeq: before + 100 });
    const versions = (await s.api('GET', '/v1/registry/models/busy/versions?limit=100')).body.items
      .map((v: { version: number }) => v.version)
      .sort((a: number, b: number) => a - b);
    expect(versions).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });
});
