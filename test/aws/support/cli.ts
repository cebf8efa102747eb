import { expect } from '@jest/globals';
import { join } from 'node:path';
import { aegisCli, type Ran } from '../../support/spawn.js';
import type { World } from './world.js';

/** A finished `aegis --json` run: its stdout parsed (`undefined` when it is not JSON). */
export type CliRun = Ran & { json: any };

/**
 * `aegis --json …` as a role of the world's role map, against its emulated API with SigV4,
 * each role with its own CLI data folder under `work()`. Getters, because suites assign the
 * world and the folder in `beforeAll`.
 */
export const worldCli =
  (world: () => World, work: () => string) =>
  async (role: string, args: string[]): Promise<CliRun> => {
    const r = await aegisCli(['--json', ...args], { ...world().as(role).env, AEGIS_DATA_DIR: join(work(), `cli-${role}`) });
    let json: unknown;
    try {
      json = JSON.parse(r.stdout);
    } catch {
      json = undefined;
    }
    return { ...r, json };
  };

/** The run exited 0 (else the failure shows the end of its stderr). */
export const ok = (r: Ran) => expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr.slice(-2000) }).toEqual({ code: 0, stderr: '' });
