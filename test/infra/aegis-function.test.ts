import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AegisFunction } from '../../lib/infra/aegis-function.js';
import { REPO_ROOT } from '../../lib/infra/aegis-stack.js';
import { CEDAR_WASM, POLICIES_DIR } from '../../lib/infra/api-functions.js';
import { logicalIdOf } from '../../lib/infra/pin.js';

/**
 * Bundles for real (esbuild in this process, no Docker): a one-line handler, so this stays fast. The
 * stack tests skip bundling, so this is where the copies beside the bundle are checked.
 */
describe('AegisFunction bundleFolders', () => {
  let root: string;
  let outdir: string;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'aegis-fn-'));
    outdir = mkdtempSync(join(tmpdir(), 'aegis-fn-out-'));
    writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}');
    // the handler's imports resolve from the project root
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
    mkdirSync(join(root, 'lambdas'));
    writeFileSync(join(root, 'lambdas', 'h.ts'), "export const handler = async () => 'ok';\n");
    mkdirSync(join(root, 'policies'));
    writeFileSync(join(root, 'policies', 'sentinelnet.cedar'), 'permit(principal, action, resource);\n');
    mkdirSync(join(root, 'conf', 'nested'), { recursive: true });
    writeFileSync(join(root, 'conf', 'nested', 'x.json'), '{}');
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outdir, { recursive: true, force: true });
  });

  it('copies each folder into the bundle under its own name, next to index.mjs', () => {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': ['**'] } });
    const stack = new Stack(app, 'S');
    const fn = new AegisFunction(stack, 'f', {
      entry: 'lambdas/h.ts',
      projectRoot: root,
      description: 'test',
      bundleFolders: ['policies', 'conf/nested'],
    });
    const plain = new AegisFunction(stack, 'g', { entry: 'lambdas/h.ts', projectRoot: root, description: 'test' });
    app.synth();
    const assetOf = (f: AegisFunction) => {
      const code = Template.fromStack(stack).toJSON().Resources[logicalIdOf(f.function)].Properties.Code;
      return join(outdir, `asset.${String(code.S3Key).replace(/\.zip$/, '')}`);
    };
    const dir = assetOf(fn);
    expect(existsSync(join(dir, 'index.mjs'))).toBe(true);
    expect(readFileSync(join(dir, 'policies', 'sentinelnet.cedar'), 'utf8')).toBe('permit(principal, action, resource);\n');
    expect(existsSync(join(dir, 'conf', 'nested', 'x.json'))).toBe(true);
    // without bundleFolders nothing is copied (and the bundle hash differs)
    const plainDir = assetOf(plain);
    expect(plainDir).not.toBe(dir);
    expect(existsSync(join(plainDir, 'index.mjs'))).toBe(true);
    expect(existsSync(join(plainDir, 'policies'))).toBe(false);
  });

  it('refuses an entry that does not exist, and fails the synth naming a folder to ship that does not', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
    expect(() => new AegisFunction(stack, 'none', { entry: 'lambdas/missing.ts', projectRoot: root, description: 'test' })).toThrow(
      `entry ${join(root, 'lambdas/missing.ts')} does not exist`,
    );
    const out = mkdtempSync(join(tmpdir(), 'aegis-fn-missing-'));
    try {
      const app = new App({ outdir: out, context: { 'aws:cdk:bundling-stacks': ['**'] } });
      expect(
        () =>
          new AegisFunction(new Stack(app, 'S'), 'f', {
            entry: 'lambdas/h.ts',
            projectRoot: root,
            description: 'test',
            bundleFolders: ['not-there'],
          }),
      ).toThrow(`${join(root, 'not-there')} does not exist`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('refuses folder names that could leave either tree or break the copy command', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
    for (const [i, bad] of ['../policies', '/etc', 'a b', 'policies/', 'x;rm'].entries()) {
      expect(
        () => new AegisFunction(stack, `f${i}`, { entry: 'lambdas/h.ts', projectRoot: root, description: 'test', bundleFolders: [bad] }),
      ).toThrow(`bundle folder ${bad} must be a relative path`);
    }
  });

  it('bundles the Cedar engine so it runs from the bundle alone: policies and its WebAssembly beside index.mjs, __dirname defined', () => {
    // the policy-deciding functions' settings (api-functions.ts), with an entry that only loads the engine
    const cedarRoot = mkdtempSync(join(tmpdir(), 'aegis-cedar-'));
    const cedarOut = mkdtempSync(join(tmpdir(), 'aegis-cedar-out-'));
    try {
      writeFileSync(join(cedarRoot, 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}');
      symlinkSync(join(REPO_ROOT, 'node_modules'), join(cedarRoot, 'node_modules'), 'dir');
      cpSync(join(REPO_ROOT, 'policies'), join(cedarRoot, 'policies'), { recursive: true });
      mkdirSync(join(cedarRoot, 'lambdas'));
      writeFileSync(
        join(cedarRoot, 'lambdas', 'decide.ts'),
        `export const handler = async () => {
  const { CedarPolicyEngine } = await import(${JSON.stringify(join(REPO_ROOT, 'lib/platform/adapters/policy/cedar.js'))});
  const engine = await CedarPolicyEngine.load(process.env.AEGIS_POLICIES_DIR);
  return engine.policySetSha256;
};
`,
      );
      const app = new App({ outdir: cedarOut, context: { 'aws:cdk:bundling-stacks': ['**'] } });
      const stack = new Stack(app, 'S');
      const fn = new AegisFunction(stack, 'decide', {
        entry: 'lambdas/decide.ts',
        projectRoot: cedarRoot,
        description: 'test',
        bundleFolders: ['policies'],
        bundleFiles: [CEDAR_WASM],
      });
      app.synth();
      const code = Template.fromStack(stack).toJSON().Resources[logicalIdOf(fn.function)].Properties.Code;
      const bundle = join(cedarOut, `asset.${String(code.S3Key).replace(/\.zip$/, '')}`);
      expect(existsSync(join(bundle, 'cedar_wasm_bg.wasm'))).toBe(true);
      // A plain ESM process in another directory, as Lambda loads the bundle (no `node -e`, whose
      // global __dirname would hide the bug). POLICIES_DIR is /var/task/policies on Lambda.
      expect(POLICIES_DIR).toBe('/var/task/policies');
      const runner = join(cedarOut, 'run.mjs');
      writeFileSync(runner, 'const m = await import(process.argv[2]); process.stdout.write(String(await m.handler()));\n');
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, AEGIS_POLICIES_DIR: join(bundle, 'policies') };
      const run = spawnSync(process.execPath, [runner, join(bundle, 'index.mjs')], {
        cwd: tmpdir(),
        env,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
      expect(run.stdout).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      rmSync(cedarRoot, { recursive: true, force: true });
      rmSync(cedarOut, { recursive: true, force: true });
    }
  });

  it('leaves packages external and ships only the listed parts of each in the bundle node_modules, where the bundle finds them', () => {
    const pkgRoot = mkdtempSync(join(tmpdir(), 'aegis-fn-pkg-'));
    const pkgOut = mkdtempSync(join(tmpdir(), 'aegis-fn-pkg-out-'));
    try {
      writeFileSync(join(pkgRoot, 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}');
      mkdirSync(join(pkgRoot, 'lambdas'));
      writeFileSync(join(pkgRoot, 'lambdas', 'h.ts'), "export const handler = async () => (await import('native-thing')).answer;\n");
      // a package with code esbuild must not inline, a binary folder per platform, and docs
      const pkg = join(pkgRoot, 'node_modules', 'native-thing');
      for (const d of ['dist', 'bin/linux/x64', 'bin/darwin/arm64', 'docs']) mkdirSync(join(pkg, d), { recursive: true });
      writeFileSync(join(pkg, 'package.json'), '{"name":"native-thing","main":"dist/index.js"}');
      writeFileSync(join(pkg, 'dist', 'index.js'), 'exports.answer = 42;\n');
      writeFileSync(join(pkg, 'bin/linux/x64/lib.so'), 'x64');
      writeFileSync(join(pkg, 'bin/darwin/arm64/lib.dylib'), 'arm');
      writeFileSync(join(pkg, 'docs', 'README.md'), 'docs');
      const app = new App({ outdir: pkgOut, context: { 'aws:cdk:bundling-stacks': ['**'] } });
      const stack = new Stack(app, 'S');
      const fn = new AegisFunction(stack, 'f', {
        entry: 'lambdas/h.ts',
        projectRoot: pkgRoot,
        description: 'test',
        packages: [{ name: 'native-thing', paths: ['package.json', 'dist', 'bin/linux/x64'] }],
      });
      app.synth();
      const code = Template.fromStack(stack).toJSON().Resources[logicalIdOf(fn.function)].Properties.Code;
      const dir = join(pkgOut, `asset.${String(code.S3Key).replace(/\.zip$/, '')}`);
      const shipped = join(dir, 'node_modules', 'native-thing');
      expect(existsSync(join(shipped, 'bin/linux/x64/lib.so'))).toBe(true);
      expect(existsSync(join(shipped, 'bin/darwin'))).toBe(false);
      expect(existsSync(join(shipped, 'docs'))).toBe(false);
      expect(readFileSync(join(dir, 'index.mjs'), 'utf8')).toContain('native-thing');
      // alone, outside the project: the bundle loads the package from its own node_modules
      const alone = mkdtempSync(join(tmpdir(), 'aegis-fn-alone-'));
      cpSync(dir, alone, { recursive: true });
      const r = spawnSync(
        process.execPath,
        ['--input-type=module', '-e', "const m = await import('./index.mjs'); console.log(await m.handler());"],
        {
          cwd: alone,
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
          encoding: 'utf8',
        },
      );
      rmSync(alone, { recursive: true, force: true });
      expect({ status: r.status, out: r.stdout.trim(), err: r.stderr.slice(0, 300) }).toEqual({ status: 0, out: '42', err: '' });
    } finally {
      rmSync(pkgRoot, { recursive: true, force: true });
      rmSync(pkgOut, { recursive: true, force: true });
    }
  });

  it('refuses package names and paths that could leave either tree, and a reserved concurrency below 1', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
    const make = (id: string, extra: object) => () =>
      new AegisFunction(stack, id, { entry: 'lambdas/h.ts', projectRoot: root, description: 'test', ...extra });
    expect(make('n', { packages: [{ name: '../x', paths: ['dist'] }] })).toThrow('package ../x is not an npm package name');
    expect(make('p', { packages: [{ name: 'x', paths: ['../../etc'] }] })).toThrow('package x: path ../../etc must be a relative path');
    expect(make('e', { packages: [{ name: 'x', paths: [] }] })).toThrow('name at least one path');
    expect(make('c', { reservedConcurrentExecutions: 0 })).toThrow('reservedConcurrentExecutions must be a whole number >= 1');
  });

  it('refuses bundle files that could leave either tree, or that would land on each other', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
    for (const [i, bad] of ['../x.wasm', '/etc/passwd', 'a b.wasm', 'node_modules/./x', 'x;rm'].entries()) {
      expect(
        () => new AegisFunction(stack, `f${i}`, { entry: 'lambdas/h.ts', projectRoot: root, description: 'test', bundleFiles: [bad] }),
      ).toThrow(`bundle file ${bad} must be a relative path`);
    }
    expect(
      () =>
        new AegisFunction(stack, 'dup', {
          entry: 'lambdas/h.ts',
          projectRoot: root,
          description: 'test',
          bundleFiles: ['a/x.wasm', 'b/x.wasm'],
        }),
    ).toThrow('distinct names');
  });
});
