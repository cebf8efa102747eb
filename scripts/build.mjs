/**
 * The build: esbuild bundles the two entry points in bin/ into dist/ (ESM for Node 20), and the
 * web console into dist/console/ (scripts/build-console.mjs). The
 * packages in package.json's `dependencies` and `optionalDependencies` stay external and are
 * loaded from node_modules: those that load wasm or native code or read files beside themselves
 * (PGlite, Cedar, pg; onnxruntime-node, optional, imported only when an ONNX model loads).
 * Every other package is bundled, which is why it is a devDependency: a CLI run then reads a
 * handful of files instead of resolving and parsing hundreds of small modules (zod, kysely,
 * commander, the AWS SDK), which is most of its start-up time. Code splitting keeps the
 * sources' lazy `import()`s lazy: the CLI does not load the server nor the modules of commands
 * it does not run (lib/clients/cli/commands.ts), and a local run loads no AWS SDK it does not use.
 *
 *   node scripts/build.mjs             build
 *   node scripts/build.mjs --if-stale  build only when a bundled source is newer than the build
 *
 * The build names no file of lib/: the bundle's own inputs (esbuild's metafile) are recorded in
 * dist/inputs.json, and the staleness check stats exactly those. Plain JavaScript so that
 * `npm ci` (the `prepare` script), `npm start` and bin/aegis.js run it without tsx.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConsole, CONSOLE_CONFIG_INPUTS, CONSOLE_OUT } from './build-console.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** dist/<name>.js ← bin/<name>.ts */
export const ENTRY_POINTS = { cli: 'bin/cli.ts', server: 'bin/server.ts', 'pglite-template': 'bin/pglite-template.ts' };
/** The migrated PGlite data folder a first start copies (lib/platform/adapters/sql/pglite-template.ts), made by the build. */
const PGLITE_TEMPLATE = 'pglite-template';
const DIST = 'dist';
const INPUTS = 'inputs.json';
/** Files that shape the output without being bundled. */
const CONFIG_INPUTS = ['scripts/build.mjs', 'tsconfig.json', 'package.json', 'package-lock.json', ...CONSOLE_CONFIG_INPUTS];
/** An ESM bundle has no `require`; bundled CommonJS code uses it (the Lambda bundles' banner does the same). */
const REQUIRE_BANNER =
  "import { createRequire as __aegisCreateRequire } from 'node:module'; const require = __aegisCreateRequire(import.meta.url);";

/**
 * Why dist/ must be rebuilt, or undefined when it is up to date: no build yet, a bundled
 * source (or the build's configuration) changed or vanished since.
 */
export function staleReason(root = ROOT) {
  let recorded;
  try {
    recorded = JSON.parse(readFileSync(join(root, DIST, INPUTS), 'utf8'));
  } catch {
    return 'no build yet';
  }
  const builtAt = recorded.builtAt;
  const outputs = [
    ...Object.keys(ENTRY_POINTS).map((n) => join(DIST, `${n}.js`)),
    join(CONSOLE_OUT, 'index.html'),
    join(DIST, PGLITE_TEMPLATE, 'template.json'),
  ];
  for (const f of [...recorded.inputs, ...CONFIG_INPUTS, ...outputs]) {
    let mtime;
    try {
      mtime = statSync(join(root, f)).mtimeMs;
    } catch {
      return `${f} is gone`;
    }
    if (mtime > builtAt && !f.startsWith(`${DIST}/`)) return `${f} changed`;
  }
  return undefined;
}

/** Bundles the entry points into dist/. Files are written whole (temp file, then rename). */
export async function build(root = ROOT) {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new NoBuilder();
  }
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const startedAt = Date.now();
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: ENTRY_POINTS,
    outdir: DIST,
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    platform: 'node',
    format: 'esm',
    target: 'node20.18',
    external: [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})],
    // packages' ESM builds, as the Lambda bundles do: a CommonJS build behind a lazy import()
    // loses its named exports (the AWS SDK's credential providers did)
    mainFields: ['module', 'main'],
    // bundled CommonJS code `require`s node builtins (none uses __dirname: it would fail loudly)
    banner: { js: REQUIRE_BANNER },
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
    write: false,
    logLevel: 'warning',
  });
  const outDir = join(root, DIST);
  mkdirSync(join(outDir, 'chunks'), { recursive: true });
  const written = new Set();
  for (const file of result.outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    const tmp = `${file.path}.${process.pid}.tmp`;
    writeFileSync(tmp, file.contents);
    renameSync(tmp, file.path);
    written.add(file.path);
  }
  // chunks of earlier builds (their names carry their content's hash)
  for (const name of readdirSync(join(outDir, 'chunks'))) {
    const path = join(outDir, 'chunks', name);
    if (!written.has(path) && !name.endsWith('.tmp')) rmSync(path, { force: true });
  }
  // the web console (dist/console): its own bundle for the browser
  const web = await buildConsole(esbuild, root);
  makePgliteTemplate(outDir);
  const inputs = [...new Set([...Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules/')), ...web.inputs])].sort();
  const tmp = join(outDir, `${INPUTS}.${process.pid}.tmp`);
  // the sources' times are compared with the start of the build: an edit during it counts
  writeFileSync(tmp, `${JSON.stringify({ builtAt: startedAt, inputs }, null, 1)}\n`);
  renameSync(tmp, join(outDir, INPUTS));
  return { files: result.outputFiles.map((f) => relative(root, f.path)), inputs: inputs.length, ms: Date.now() - startedAt };
}

/**
 * Runs the built template maker into dist/pglite-template: ~3 s of initdb and migrations once
 * per build instead of at every first start of a data folder.
 */
function makePgliteTemplate(outDir) {
  // NODE_OPTIONS is the caller's (a test runner's loader): the maker needs none of it
  const { NODE_OPTIONS: _omit, ...env } = process.env;
  const r = spawnSync(process.execPath, [join(outDir, `${PGLITE_TEMPLATE}.js`), join(outDir, PGLITE_TEMPLATE)], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the PGlite template failed (exit ${r.status}): ${(r.stderr || String(r.error ?? '')).trim()}`);
}

/** esbuild (a devDependency) is not installed, as after `npm ci --omit=dev`. */
class NoBuilder extends Error {
  constructor() {
    super('esbuild is not installed (a devDependency: run npm ci without --omit=dev, or install the package npm pack makes)');
  }
}

/**
 * Builds when {@link staleReason} says so; returns what it did. Without esbuild, an existing
 * dist/ is kept (with a warning on stderr) and a missing one is an error.
 */
export async function buildIfStale(root = ROOT) {
  const reason = staleReason(root);
  if (!reason) return { built: false };
  try {
    return { built: true, reason, ...(await build(root)) };
  } catch (e) {
    if (!(e instanceof NoBuilder) || !existsSync(join(root, DIST, 'cli.js'))) throw e;
    process.stderr.write(`aegis build: dist/ may be stale (${reason}) and cannot be rebuilt: ${e.message}\n`);
    return { built: false };
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const r = process.argv.includes('--if-stale') ? await buildIfStale() : { built: true, ...(await build()) };
    if (r.built) {
      const js = r.files.filter((f) => f.endsWith('.js'));
      const why = r.reason ? ` (${r.reason})` : '';
      process.stderr.write(`aegis build: ${js.length} files in ${DIST}/ from ${r.inputs} sources in ${r.ms} ms${why}\n`);
    }
  } catch (e) {
    process.stderr.write(`aegis build: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
