/**
 * The web console's first render in real Chromium (test/support/browser.ts) against a local
 * server holding one model with 10,000 versions seeded straight into the database and a few
 * hundred other models: navigation start → the first row of the page's table shown, for
 * `/models` and `/models/<the big model>`, with the HTTP cache cleared (cold) and kept (warm).
 * References in the same run: the API GET each page needs, fetched from node, and a static empty
 * page's load in the same browser. Also the console's JS + CSS gzipped (goal ≤ 150 kB) and the
 * API calls each page made. Times are not asserted.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { registerArtifact } from '../lib/clients/http/registration.js';
import { launchBrowser, type Browsing } from '../test/support/browser.js';
import { seedModels, seedVersions } from '../test/support/seed-versions.js';
import { emptyPageServer, firstRender, pageLoad, type Render } from './console-browser.js';
import { manifestFor, startBenchStack, tempDir, removeTree } from './stack.js';
import { envInt, ms, ratio, summarize, table } from './stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ASSETS = join(ROOT, 'dist', 'console', 'assets');
const BIG = 'bench-console-big';
/** the goal for the whole console, gzipped (kB = 1,000 bytes) */
const GOAL_KB = 150;

export const consoleOptionsFromEnv = () => ({
  runs: envInt('BENCH_CONSOLE_RUNS', 7),
  versions: envInt('BENCH_CONSOLE_VERSIONS', 10_000),
  models: envInt('BENCH_CONSOLE_MODELS', 300),
});

/** Builds dist/ (and the console) when a source changed since the last build, as `npm test` does. */
function buildIfStale(): void {
  const { NODE_OPTIONS: _omit, ...env } = process.env;
  const r = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the build failed:\n${r.stderr}`);
}

/** The console's scripts and stylesheets (no maps, no licence text), each with its size gzipped. */
function bundleSizes(): { file: string; raw: number; gzipped: number }[] {
  return readdirSync(ASSETS)
    .filter((f) => /\.(js|css)$/.test(f))
    .map((file) => {
      const bytes = readFileSync(join(ASSETS, file));
      return { file, raw: bytes.length, gzipped: gzipSync(bytes).length };
    });
}

const kB = (bytes: number): string => `${(bytes / 1000).toFixed(1)} kB`;

export async function consoleBench(o: ReturnType<typeof consoleOptionsFromEnv>, print: (l: string) => void): Promise<void> {
  print(`\n== Console first render: /models and /models/${BIG} (${o.versions} versions), ${o.models} other models, ${o.runs} runs ==`);
  buildIfStale();
  const sizes = bundleSizes();
  const total = sizes.reduce((s, f) => s + f.gzipped, 0);
  print(
    table(
      ['console asset', 'bytes', 'gzipped'],
      [...sizes.map((f) => [f.file, kB(f.raw), kB(f.gzipped)]), ['total JS + CSS', kB(sizes.reduce((s, f) => s + f.raw, 0)), kB(total)]],
    ),
  );
  print(`   gzipped ${kB(total)} of the goal's ${GOAL_KB} kB (${((total / (GOAL_KB * 1000)) * 100).toFixed(0)} %)`);

  const stack = await startBenchStack();
  const files = await tempDir('console');
  let browser: Browsing | undefined;
  let empty: Awaited<ReturnType<typeof emptyPageServer>> | undefined;
  try {
    const bytes = randomBytes(4096);
    const artifactPath = join(files, 'v1.bin');
    await writeFile(artifactPath, bytes);
    const manifest = manifestFor(BIG, createHash('sha256').update(bytes).digest('hex'), bytes.length);
    await registerArtifact(stack.publisher, { modelName: BIG, artifactPath, manifest });
    const t0 = performance.now();
    await seedVersions(stack.container.database, BIG, o.versions);
    await seedModels(stack.container.database, BIG, 'bench-console-model', o.models);
    print(`seeded ${o.versions - 1} versions and ${o.models} models in SQL: ${ms(performance.now() - t0)}`);

    empty = await emptyPageServer();
    browser = await launchBrowser(stack.url);
    const session = await browser.context.request.post(`${stack.url}/session`, { data: { token: stack.publisherToken } });
    if (session.status() !== 200) throw new Error(`signing the browser in: ${session.status()} ${await session.text()}`);

    const apiGet = async (path: string) => {
      const t = performance.now();
      const res = await fetch(`${stack.url}${path}`, { headers: { authorization: `Bearer ${stack.publisherToken}` } });
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
      await res.json();
      return performance.now() - t;
    };
    const pages = [
      { path: '/models', selector: 'tbody tr', api: '/v1/registry/models?limit=50' },
      {
        path: `/models/${BIG}`,
        selector: 'tbody tr:has(input[aria-label^="compare"])',
        api: `/v1/registry/models/${BIG}/versions?limit=50`,
      },
    ];
    // one untimed round of everything: the server's first queries, the browser's first tab
    await pageLoad(browser.context, empty.url);
    for (const p of pages) {
      await apiGet(p.api);
      await firstRender(browser.context, stack.url, p.path, p.selector, true);
    }
    const emptyMs: number[] = [];
    const results = pages.map(() => ({ api: [] as number[], cold: [] as Render[], warm: [] as Render[] }));
    for (let i = 0; i < o.runs; i++) {
      emptyMs.push(await pageLoad(browser.context, empty.url));
      for (const [j, p] of pages.entries()) {
        results[j]!.api.push(await apiGet(p.api));
        results[j]!.cold.push(await firstRender(browser.context, stack.url, p.path, p.selector, true));
        results[j]!.warm.push(await firstRender(browser.context, stack.url, p.path, p.selector, false));
      }
    }

    const e = summarize(emptyMs);
    const row = (label: string, x: ReturnType<typeof summarize>, vsApi: string, vsEmpty: string) => [
      label,
      String(x.n),
      ms(x.p50),
      ms(x.p95),
      vsApi,
      vsEmpty,
    ];
    const rows: string[][] = [row('static empty page load (reference)', e, '', '1.00×')];
    for (const [j, p] of pages.entries()) {
      const r = results[j]!;
      const a = summarize(r.api);
      rows.push(row(`GET ${p.api} from node (reference)`, a, '1.00×', ''));
      for (const [label, runs] of [
        ['cold cache', r.cold],
        ['warm cache', r.warm],
      ] as const) {
        const s = summarize(runs.map((x) => x.ms));
        rows.push(row(`${p.path} → first row, ${label}`, s, ratio(s.p50 / a.p50), ratio(s.p50 / e.p50)));
      }
    }
    print(table(['measurement', 'n', 'p50', 'p95', 'p50 vs API GET', 'p50 vs empty page'], rows));
    for (const [j, p] of pages.entries()) {
      const calls = results[j]!.cold[0]!.calls;
      print(`   ${p.path}: ${calls.length} API calls (${calls.join(', ')})`);
    }
    const problems = results.flatMap((r) => [...r.cold, ...r.warm].flatMap((x) => x.problems));
    if (problems.length) print(`   problems seen in the pages: ${[...new Set(problems)].join('; ')}`);
    print('   context, not asserted: the issue asks for the models page with 10,000 versions to render its first page in under 1 s');
  } finally {
    await browser?.close();
    await empty?.close();
    await stack.close();
    await removeTree(files);
  }
}
