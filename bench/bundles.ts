/**
 * Lambda bundles as Lambda loads them: each synthesized bundle copied alone into an empty
 * folder, its size (without the source map) and its cold import time in a fresh `node`,
 * against `node -e 0` measured in the same run (goals: ≤ 1 MB, ≤ 3× a bare node start).
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyAlone, functionAssets, sharedAssembly } from '../test/aws/support/synth.js';
import { envInt, ms, ratio, table } from './stats.js';
import { nodeWall } from './wall.js';

export const bundlesOptionsFromEnv = () => ({ runs: envInt('BENCH_IMPORT_RUNS', 7) });

export async function bundlesBench(opts: { runs: number }, print: (line: string) => void): Promise<void> {
  print('\n## Lambda bundles (cdk synth, each bundle alone in an empty folder)');
  const t0 = performance.now();
  const assembly = await sharedAssembly();
  print(`synth: ${ms(performance.now() - t0)} (shared with the test run when AEGIS_TEST_RUN_DIR is set)`);
  const root = mkdtempSync(join(tmpdir(), 'aegis-bench-bundles-'));
  try {
    const bare = await nodeWall(['-e', '0'], root, opts.runs);
    const rows: string[][] = [];
    let largest = 0;
    let slowest = 0;
    for (const fn of functionAssets(assembly).filter((f) => existsSync(join(f.assetDir, `${f.moduleFile}.map`)))) {
      const dir = copyAlone(fn, root);
      const size = statSync(join(dir, fn.moduleFile)).size;
      const wall = await nodeWall(['--input-type=module', '-e', `await import('./${fn.moduleFile}')`], dir, opts.runs);
      largest = Math.max(largest, size);
      slowest = Math.max(slowest, wall / bare);
      rows.push([
        fn.logicalId.replace(/^Functions|Function[0-9A-F]{8}$/g, ''),
        `${(size / 1e6).toFixed(2)} MB`,
        ms(wall),
        ratio(wall / bare),
      ]);
    }
    print(table(['function', 'bundle (no map)', 'cold import p50', 'vs node -e 0'], rows));
    print(`node -e 0: ${ms(bare)} p50 of ${opts.runs}`);
    print(
      `largest bundle ${(largest / 1e6).toFixed(2)} MB (goal ≤ 1 MB); slowest cold import ${ratio(slowest)} a bare node start (goal ≤ 3×)`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
