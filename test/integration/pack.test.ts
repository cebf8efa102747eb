/**
 * What ships: `npm pack` makes the package, a fresh project installs it (offline, from the npm
 * cache `npm ci` filled: the project's lock pins the package's dependencies to the versions of
 * this repo's package-lock.json), and its `aegis` runs there, outside the repo, with no
 * sources, no tsx and no devDependencies: --version, --help, then `aegis serve` and a trained,
 * registered and promoted model (PGlite's wasm, Cedar's wasm and policies, the state machines,
 * the bundled Step Functions runner).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/moto.js';
import { run } from '../support/spawn.js';

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}
interface Lock {
  packages: Record<string, LockEntry>;
}
interface Pkg {
  name: string;
  version: string;
  license: string;
  dependencies: Record<string, string>;
  bin: Record<string, string>;
  engines: Record<string, string>;
}

const ROOT = process.cwd();
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Pkg;
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;

/** The lock entries of `pkg.dependencies` and everything they need, as this repo's lock resolves them. */
function runtimeLockEntries(): Record<string, LockEntry> {
  const found: Record<string, LockEntry> = {};
  /** Node's lookup within the lock: `<from>/node_modules/<name>`, then each enclosing node_modules. */
  const resolve = (name: string, from: string): string | undefined => {
    for (let at = from; ;) {
      const key = `${at ? `${at}/` : ''}node_modules/${name}`;
      if (lock.packages[key]) return key;
      if (!at) return undefined;
      const i = at.lastIndexOf('/node_modules/');
      at = i < 0 ? '' : at.slice(0, i);
    }
  };
  const add = (key: string) => {
    if (found[key]) return;
    const entry = lock.packages[key]!;
    found[key] = entry;
    for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies })) {
      const at = resolve(dep, key);
      if (at) add(at);
      else if (!(entry.optionalDependencies?.[dep] || entry.peerDependenciesMeta?.[dep]?.optional))
        throw new Error(`${key} needs ${dep}, which package-lock.json lacks`);
    }
  };
  for (const dep of Object.keys(pkg.dependencies)) {
    const at = resolve(dep, '');
    if (!at) throw new Error(`dependency ${dep} is not in package-lock.json`);
    add(at);
  }
  return found;
}

/**
 * The environment of a user's shell: without what `npm test` adds (lowercase npm_* — among
 * them npm_config_local_prefix, this repo — and INIT_CWD) and jest's NODE_OPTIONS. A user's
 * own NPM_CONFIG_* (a cache or registry setting) stays.
 */
function userEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|NODE_OPTIONS$|INIT_CWD$)/.test(k)));
  return { ...env, ...extra, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
}

let work: string;
let consumer: string;
let aegisBin: string;
const aegis = (args: string[], env: Record<string, string> = {}) => run(aegisBin, args, { cwd: consumer, env: userEnv(env) });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aegis-pack-'));
  // dist/ is built by the global setup; --ignore-scripts keeps `prepare` from rebuilding it
  // under the other suites' feet
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, env: userEnv() });
  expect(packed.code).toBe(0);
  const { filename } = (JSON.parse(packed.stdout) as [{ filename: string }])[0];
  consumer = join(work, 'consumer');
  await run('mkdir', ['-p', consumer]);
  const tarball = `file:../${filename}`;
  await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, dependencies: { aegis: tarball } }));
  await writeFile(
    join(consumer, 'package-lock.json'),
    JSON.stringify({
      name: 'consumer',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'consumer', dependencies: { aegis: tarball } },
        'node_modules/aegis': {
          version: pkg.version,
          resolved: tarball,
          license: pkg.license,
          dependencies: pkg.dependencies,
          bin: pkg.bin,
          engines: pkg.engines,
        },
        ...runtimeLockEntries(),
      },
    }),
  );
  const installed = await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: consumer, env: userEnv() });
  if (installed.code !== 0) throw new Error(`npm ci of the packed aegis failed:\n${installed.stdout}\n${installed.stderr}`);
  aegisBin = join(consumer, 'node_modules/.bin/aegis');
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds the compiled CLI and server, the files they read, and no sources', () => {
    const installed = join(consumer, 'node_modules/aegis');
    expect(readdirSync(installed).sort()).toEqual(['README.md', 'bin', 'dist', 'package.json', 'policies', 'statemachines']);
    expect(readdirSync(join(installed, 'bin'))).toEqual(['aegis.js']);
    expect(existsSync(join(installed, 'dist/cli.js'))).toBe(true);
    expect(existsSync(join(installed, 'dist/server.js'))).toBe(true);
    // only the dependencies and what they need: no build tools, no bundled libraries
    for (const tool of ['esbuild', 'tsx', 'aws-cdk-lib', 'zod', 'kysely', 'commander', '@aws-sdk'])
      expect(existsSync(join(consumer, 'node_modules', tool))).toBe(false);
  });

  it('runs aegis --version and aegis --help', async () => {
    const version = await aegis(['--version']);
    expect([version.code, version.stdout.trim(), version.stderr]).toEqual([0, pkg.version, '']);
    const help = await aegis(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: aegis \[options\] \[command\]/);
    expect(help.stdout).toMatch(/\bserve\b/);
  });

  it('serves, then trains, registers and promotes a model through its own CLI', async () => {
    const dataDir = join(work, 'data');
    const port = await freePort();
    const env = { AEGIS_DATA_DIR: dataDir, DEV_ALLOW_EPHEMERAL: 'true', PORT: String(port), HOST: '127.0.0.1' };
    const server: ChildProcess = spawn(aegisBin, ['serve'], { cwd: consumer, env: userEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    server.stdout!.on('data', (d) => (out += d));
    server.stderr!.on('data', (d) => (out += d));
    try {
      const deadline = Date.now() + 60_000;
      while (!out.includes('listening on')) {
        if (server.exitCode !== null || Date.now() > deadline) throw new Error(`aegis serve did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const cli = { AEGIS_URL: `http://127.0.0.1:${port}`, AEGIS_DATA_DIR: dataDir };
      const trained = await aegis(
        [
          'train',
          '--record',
          '--model',
          'packed',
          '--dataset',
          `sample@v1=${join(ROOT, 'test/data/sample')}`,
          '--seed',
          '7',
          '--out',
          join(work, 'runs/packed'),
          '--register',
          '--code-ref',
          'git:0000000',
        ],
        { ...cli, CONTAINER_DIGEST: `sha256:${'0'.repeat(64)}` },
      );
      expect(trained).toMatchObject({ code: 0, stdout: expect.stringMatching(/registered packed v1/) });
      const { artifactId } = JSON.parse(readFileSync(join(work, 'runs/packed.manifest.json'), 'utf8')) as { artifactId: string };
      const promoted = await aegis(['promote', '--artifact-id', artifactId, '--env', 'staging', '--reason', 'pack test'], cli);
      expect(promoted).toMatchObject({ code: 0, stderr: '' });
      let status = '';
      for (const until = Date.now() + 30_000; status !== 'succeeded' && Date.now() < until;) {
        const r = await aegis(['--json', 'promotions', '--artifact-id', artifactId], cli);
        status = (JSON.parse(r.stdout) as { items: { status: string }[] }).items[0]?.status ?? '';
        if (status !== 'succeeded') await new Promise((r) => setTimeout(r, 200));
      }
      expect(status).toBe('succeeded');
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => (server.exitCode !== null ? r(undefined) : server.once('exit', r)));
    }
  });
});
