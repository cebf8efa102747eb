/**
 * One AWS-mode suite's world: started before its tests with a temp folder of its own, both
 * stopped and removed after them, and the CLI as a role of the world against it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from '@jest/globals';
import { worldCli, type CliRun } from './cli.js';
import { startWorld, type World, type WorldOptions } from './world.js';

/** A suite's world and temp folder (read them in tests and hooks: they are set in `beforeAll`), and the CLI. */
export interface WorldSuite {
  readonly world: World;
  readonly work: string;
  cli(role: string, args: string[]): Promise<CliRun>;
}

/**
 * Registers the suite's `beforeAll` (a temp folder named `prefix…`, then the world, given the
 * options `options` makes of that folder) and `afterAll` (the world stopped, the folder removed).
 *
 * @example
 * const suite = worldSuite('aegis-async-work-', () => ({ extraEnv: () => ({ AEGIS_REGISTER_ASYNC_BYTES: '1048576' }) }));
 * it('…', async () => ok(await suite.cli('auditor', ['keys', 'list'])));
 */
export function worldSuite(prefix: string, options: (work: string) => WorldOptions = () => ({})): WorldSuite {
  let world: World | undefined;
  let work = '';
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), prefix));
    world = await startWorld(options(work));
  }, 600_000);
  afterAll(async () => {
    await world?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });
  return {
    get world() {
      if (!world) throw new Error('the world is started in beforeAll');
      return world;
    },
    get work() {
      return work;
    },
    cli: worldCli(
      () => world!,
      () => work,
    ),
  };
}
