import { join } from 'node:path';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { AuditTrail } from '../../lib/platform/audit/trail.js';
import { headKey } from '../../lib/platform/audit/head.js';
import { rebuildIndex } from '../../lib/recovery/rebuild.js';
import type { Database } from '../../lib/platform/ports/database.js';
import { FakeTimers } from '../support/fake-timers.js';
import { startStack, type Stack } from '../support/local-stack.js';
import { emptyTarget, openTarget, populate, recoveryDeps, registerAllDatasets } from './support.js';

/**
 * A rebuild (and the DR drill, which verifies the rebuilt chain) must not accept a registry
 * that ends before the newest signed head checkpoint: those events existed and are lost.
 */
let stack: Stack;
let target: Database;

beforeAll(async () => {
  stack = await startStack({}, { timers: new FakeTimers() });
  await registerAllDatasets(stack);
  await populate(stack, 2);
  await stack.container.auditTrail.archive();
  target = await openTarget();
}, 180_000);
afterAll(async () => {
  await target?.close();
  await stack?.stop();
});

const headOf = async (db: Database) =>
  Number((await db.db.selectFrom('audit_events').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow()).seq);

describe('rebuilding against the newest head checkpoint', () => {
  it('reports the events a head checkpoint signed after the last archive run as lost, and the rebuilt chain fails verification', async () => {
    await populate(stack, 1, {}, 2); // after the archive run
    const head = await headOf(stack.container.database);
    expect(await stack.container.auditTrail.checkpointHead()).toMatchObject({ written: true, seq: head });

    const report = await rebuildIndex(recoveryDeps(stack, target));
    expect(report.archivedThrough).toBeLessThan(head);
    expect(report.problems).toEqual([
      {
        kind: 'event',
        id: `seq ${head}`,
        problem: 'behind-checkpoint',
        detail: expect.stringContaining(
          `names seq ${head}, but the archive ends at ${report.archivedThrough}: event(s) ${report.archivedThrough + 1}..${head} are not in it; the rebuilt registry lacks them`,
        ),
      },
    ]);
    expect(report.problems[0]!.detail).toContain(headKey(head));

    // the drill's check of the rebuilt registry
    const c = stack.container;
    const rebuilt = await new AuditTrail(
      target,
      new FsObjectStore({ root: join(stack.dataDir, 'audit-archive') }),
      c.keys,
      c.clock,
      1,
    ).verify();
    expect(rebuilt).toMatchObject({ ok: false, firstBreak: { seq: head, problem: 'behind-checkpoint' } });
  });

  it('accepts the rebuild once the archive covers the checkpoint', async () => {
    await stack.container.auditTrail.archive();
    await emptyTarget(target);
    const report = await rebuildIndex(recoveryDeps(stack, target));
    expect(report.problems).toEqual([]);
    const c = stack.container;
    const rebuilt = await new AuditTrail(
      target,
      new FsObjectStore({ root: join(stack.dataDir, 'audit-archive') }),
      c.keys,
      c.clock,
      1,
    ).verify();
    expect(rebuilt).toMatchObject({ ok: true, checkpoint: { seq: await headOf(stack.container.database) } });
  });
});
