#!/usr/bin/env node
// `aegis` (`npx aegis`, and the bin of the installed package): runs the compiled CLI, dist/cli.js.
// In a checkout (scripts/build.mjs beside bin/) it first rebuilds dist/ when a bundled source
// changed since the last build (a few ms to check), so `npx aegis` never runs stale code. An
// installed package has no scripts/ and runs dist/ as shipped.
import { existsSync } from 'node:fs';

const build = new URL('../scripts/build.mjs', import.meta.url);
if (existsSync(build)) {
  const { buildIfStale } = await import(build.href);
  try {
    const r = await buildIfStale();
    if (r.built && process.stderr.isTTY) process.stderr.write(`aegis: rebuilt dist/ in ${r.ms} ms (${r.reason})\n`);
  } catch (e) {
    process.stderr.write(`aegis: cannot build dist/: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
await import('../dist/cli.js');
