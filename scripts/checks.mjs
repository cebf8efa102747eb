#!/usr/bin/env node
/**
 * The static checks `npm test` runs before jest — type-checks, ESLint, Prettier, the dependency
 * rules, knip and the secrets scan — run side by side, as many at once as the machine has cores
 * (one after another they take ~2.5 minutes here, a core mostly idle).
 * Each check's output is printed whole when it ends (never interleaved), with its time; the
 * exit code is 1 when any check failed, after every check has ended.
 *
 *   node scripts/checks.mjs             every check
 *   node scripts/checks.mjs eslint tsc  only those named (eslint, tsc, prettier, tsc-console, secrets, knip, deps)
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';

/**
 * The checks: package.json scripts (`check:<name>`, and `secrets`), longest first so the slowest
 * starts at once and the short ones fill the other cores.
 */
const CHECKS = ['eslint', 'tsc', 'prettier', 'tsc-console', 'secrets', 'knip', 'deps'];
const scriptOf = (name) => (name === 'secrets' ? 'secrets' : `check:${name}`);

/** Runs one check's npm script; resolves with its exit code, output and time (ms). */
function run(name) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', scriptOf(name)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (e) => resolve({ code: 1, out: `${out}${e.message}\n`, ms: performance.now() - t0 }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), out, ms: performance.now() - t0 }));
  });
}

async function main(names) {
  const unknown = names.filter((n) => !CHECKS.includes(n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown check(s): ${unknown.join(', ')}; the checks are: ${CHECKS.join(', ')}\n`);
    return 2;
  }
  const queue = CHECKS.filter((c) => names.length === 0 || names.includes(c));
  const failed = [];
  const worker = async () => {
    for (let name = queue.shift(); name; name = queue.shift()) {
      const r = await run(name);
      const status = r.code === 0 ? 'ok' : `FAILED (exit ${r.code})`;
      process.stdout.write(`\n── ${name} (npm run ${scriptOf(name)}): ${status} in ${(r.ms / 1000).toFixed(1)} s\n${r.out}`);
      if (r.code !== 0) failed.push(name);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, availableParallelism()) }, worker));
  process.stdout.write(failed.length === 0 ? '\nevery static check passed\n' : `\nstatic checks failed: ${failed.join(', ')}\n`);
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
