/**
 * The web console's build (called by scripts/build.mjs): esbuild bundles console/src/main.tsx
 * (Preact, TSX, its CSS) into one minified script (plus the chunks it imports lazily) and one
 * stylesheet whose names carry their content's hash (dist/console/assets/), and writes dist/console/index.html naming them. No
 * runtime CDN: everything the page loads comes from these files.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export const CONSOLE_ENTRY = 'console/src/main.tsx';
export const CONSOLE_OUT = 'dist/console';
/** Files that shape the console's output without being bundled. */
export const CONSOLE_CONFIG_INPUTS = ['console/index.html', 'console/tsconfig.json', 'scripts/build-console.mjs'];

/** Builds the console into dist/console; returns its bundled source files (for the staleness check) and sizes. */
export async function buildConsole(esbuild, root) {
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { app: CONSOLE_ENTRY },
    outdir: join(CONSOLE_OUT, 'assets'),
    entryNames: '[name]-[hash]',
    bundle: true,
    minify: true,
    format: 'esm',
    // the AWS sign-in (SigV4, Cognito) is a chunk of its own, loaded only when config.json says aws
    splitting: true,
    chunkNames: 'chunk-[hash]',
    target: ['chrome110', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: 'console/tsconfig.json',
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'linked',
    metafile: true,
    write: false,
    logLevel: 'warning',
  });
  const assets = join(root, CONSOLE_OUT, 'assets');
  mkdirSync(assets, { recursive: true });
  const written = new Set();
  for (const file of result.outputFiles) {
    mkdirSync(dirname(file.path), { recursive: true });
    const tmp = `${file.path}.${process.pid}.tmp`;
    writeFileSync(tmp, file.contents);
    renameSync(tmp, file.path);
    written.add(file.path);
  }
  const named = (ext) => {
    const f = result.outputFiles.find((o) => o.path.endsWith(ext) && basename(o.path).startsWith('app-'));
    if (!f) throw new Error(`the console build made no ${ext} file`);
    return basename(f.path);
  };
  const html = readFileSync(join(root, 'console/index.html'), 'utf8').replace('%SCRIPT%', named('.js')).replace('%STYLE%', named('.css'));
  const index = join(root, CONSOLE_OUT, 'index.html');
  writeFileSync(`${index}.${process.pid}.tmp`, html);
  renameSync(`${index}.${process.pid}.tmp`, index);
  // assets of earlier builds (their names carry their content's hash)
  for (const name of readdirSync(assets)) {
    const path = join(assets, name);
    if (!written.has(path) && !name.endsWith('.tmp')) rmSync(path, { force: true });
  }
  const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules/'));
  return { inputs, files: result.outputFiles.length };
}
