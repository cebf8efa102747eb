/**
 * The CLI's wall time as a user pays it: a fresh `node bin/aegis.js` (the compiled CLI,
 * dist/cli.js, after its few-ms staleness check) for `--help`, `--version` and `list` against
 * a running local server, against `node -e 0` measured in the same run (goal: ≤ 0.4 s per
 * command). The build is brought up to date first, so no timed run rebuilds.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { envInt, ms, ratio, table } from './stats.js';
import { startBenchStack } from './stack.js';
import { nodeWall } from './wall.js';

export const cliOptionsFromEnv = () => ({ runs: envInt('BENCH_CLI_RUNS', 7) });

const REPO = fileURLToPath(new URL('..', import.meta.url));

export async function cliBench(opts: { runs: number }, print: (line: string) => void): Promise<void> {
  print('\n## CLI wall time (a fresh process per run, compiled CLI)');
  const build = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: REPO, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`the build failed: ${build.stderr}`);
  const stack = await startBenchStack();
  try {
    const env = { AEGIS_URL: stack.url, AEGIS_TOKEN: stack.publisherToken };
    const bare = await nodeWall(['-e', '0'], REPO, opts.runs);
    const commands: [string, string[]][] = [
      ['aegis --version', ['--version']],
      ['aegis --help', ['--help']],
      ['aegis list', ['list']],
    ];
    const rows: string[][] = [];
    for (const [label, args] of commands) {
      const t = await nodeWall(['bin/aegis.js', ...args], REPO, opts.runs, env);
      rows.push([label, ms(t), ratio(t / bare), t <= 400 ? 'yes' : 'no']);
    }
    print(table(['command', 'wall p50', 'vs node -e 0', '≤ 0.4 s'], rows));
    print(`node -e 0: ${ms(bare)} p50 of ${opts.runs}`);
  } finally {
    await stack.close();
  }
}
