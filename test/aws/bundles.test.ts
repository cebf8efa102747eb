import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as esbuild from 'esbuild';
import { LOCAL_ONLY_PACKAGES } from '../../lib/infra/lambda-bundle.js';
import { API_FUNCTION_NAMES, ONNX_PACKAGE, POLICY_DECIDING_ROUTES, ROUTE_FUNCTION } from '../../lib/infra/api-functions.js';
import { REPO_ROOT } from '../../lib/infra/aegis-stack.js';
import { ROUTES } from '../../lib/platform/http/routes.js';
import { copyAlone, functionAssets, servedRoutes, sharedAssembly, type Assembly, type FunctionAsset } from './support/synth.js';

/**
 * What Lambda runs is the synthesized bundle, alone: no repo, no node_modules. Each bundle is
 * copied into an empty folder outside the repo and imported by a plain `node` there. A bundle
 * that imports a package it does not contain fails here, as it would fail in Lambda.
 */
let assembly: Assembly;
let fns: FunctionAsset[];
let root: string;

beforeAll(async () => {
  assembly = await sharedAssembly();
  fns = functionAssets(assembly);
  root = mkdtempSync(join(tmpdir(), 'aegis-alone-'));
}, 600_000);
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const BUILTINS = new Set(builtinModules);
const isBuiltin = (spec: string) => spec.startsWith('node:') || BUILTINS.has(spec) || BUILTINS.has(spec.split('/')[0]!);

/**
 * Module specifiers a bundle still loads at run time (static and dynamic imports, require()),
 * read by esbuild's own parser rather than by pattern-matching minified code.
 */
async function importedSpecifiers(file: string): Promise<{ path: string; kind: string }[]> {
  const found: { path: string; kind: string }[] = [];
  await esbuild.build({
    entryPoints: [file],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    logLevel: 'silent',
    plugins: [
      {
        name: 'record-imports',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === 'entry-point') return undefined;
            if (!args.path.startsWith('.')) {
              found.push({ path: args.path, kind: args.kind });
              return { path: args.path, external: true };
            }
            return undefined;
          });
        },
      },
    ],
  });
  return found;
}

/**
 * Optional modules the AWS SDK tries inside try/catch for features Aegis does not use
 * (SigV4a, multi-region access points): absent, the SDK says so only if such a feature is used.
 */
const OPTIONAL_SDK_MODULES = new Set(['@aws-sdk/signature-v4-crt', '@aws-sdk/signature-v4a']);

/** What every Lambda Node.js runtime provides (CDK's own framework functions rely on it; ours bundle their SDK). */
const isRuntimeSdk = (spec: string) => spec.startsWith('@aws-sdk/');

/** The packages a bundle was built from, read from its source map. */
function bundledPackages(fn: FunctionAsset): Set<string> {
  const map = JSON.parse(readFileSync(join(fn.assetDir, `${fn.moduleFile}.map`), 'utf8')) as { sources: string[] };
  const pkgs = new Set<string>();
  for (const s of map.sources) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(s);
    if (m) pkgs.add(m[1]!);
  }
  return pkgs;
}

const ours = () => fns.filter((f) => existsSync(join(f.assetDir, `${f.moduleFile}.map`)));

/** The serving function: the only bundle that carries packages of its own (onnxruntime-node, trimmed). */
const isServing = (fn: FunctionAsset) => servedRoutes(fn).includes('servingPredict');

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name), base) : [join(dir, e.name).slice(base.length + 1)],
  );
}
const sizeOf = (dir: string) => filesUnder(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);

describe('synthesized Lambda bundles', () => {
  it('finds every function of the stack, ours with their source maps', () => {
    // the API functions (serving every route that is not local-only), migrate, rollout step, scheduled archiver (+ CDK's two framework functions)
    expect(ours().length).toBeGreaterThanOrEqual(API_FUNCTION_NAMES.length + 3);
    expect(ours().flatMap(servedRoutes).sort()).toEqual(
      Object.values(ROUTES)
        .filter((r) => !('localOnly' in r && r.localOnly))
        .map((r) => r.id)
        .sort(),
    );
    expect(fns.length).toBeGreaterThan(ours().length);
  });

  it('import alone in an empty folder with no node_modules above it, exporting the handler Lambda calls', () => {
    for (let d = root; d !== dirname(d); d = dirname(d)) expect(existsSync(join(d, 'node_modules'))).toBe(false);
    const failures: string[] = [];
    for (const fn of ours()) {
      const dir = copyAlone(fn, root);
      const script = `const m = await import(${JSON.stringify(`./${fn.moduleFile}`)}); if (typeof m[${JSON.stringify(fn.exportName)}] !== 'function') { console.error('Error: export ${fn.exportName} is ' + typeof m[${JSON.stringify(fn.exportName)}]); process.exit(3); }`;
      // the bare environment of a Lambda init: no NODE_PATH, no NODE_OPTIONS, no repo
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LAMBDA_TASK_ROOT: dir },
        encoding: 'utf8',
        timeout: 60_000,
      });
      if (r.status !== 0)
        failures.push(`${fn.logicalId}: exit ${r.status} ${r.stderr.split('\n').find((l) => /Error/.test(l)) ?? r.stderr.slice(0, 300)}`);
    }
    expect(failures).toEqual([]);
  });

  it('import no package at run time besides node builtins (CDK framework functions: besides the runtime SDK too; serving: the ONNX runtime it carries)', async () => {
    const offenders: string[] = [];
    let servingImportsOnnx = false;
    for (const fn of fns) {
      const mine = ours().includes(fn);
      for (const { path, kind } of await importedSpecifiers(join(fn.assetDir, fn.moduleFile))) {
        if (isBuiltin(path) || (kind === 'require-call' && OPTIONAL_SDK_MODULES.has(path)) || (!mine && isRuntimeSdk(path))) continue;
        // serving loads onnxruntime-node on its first ONNX model, from its own node_modules (checked below)
        if (isServing(fn) && path === ONNX_PACKAGE && kind === 'dynamic-import') {
          servingImportsOnnx = true;
          continue;
        }
        offenders.push(`${fn.logicalId} ${kind} ${path}`);
      }
    }
    expect(offenders).toEqual([]);
    expect(servingImportsOnnx).toBe(true);
    // parsing every bundle (~35, 1-2 MB each) takes a minute or more on a loaded 2-core machine
  }, 300_000);

  it("ship onnxruntime-node in the serving bundle only, trimmed to linux/x64, within Lambda's 250 MB unzipped", () => {
    const serving = ours().filter(isServing);
    expect(serving).toHaveLength(1);
    for (const fn of ours())
      expect({ fn: fn.logicalId, nodeModules: existsSync(join(fn.assetDir, 'node_modules')) }).toEqual({
        fn: fn.logicalId,
        nodeModules: isServing(fn),
      });
    const dir = serving[0]!.assetDir;
    expect(readdirSync(join(dir, 'node_modules')).sort()).toEqual([ONNX_PACKAGE, 'onnxruntime-common'].sort());
    const natives = filesUnder(join(dir, 'node_modules', ONNX_PACKAGE)).filter((f) => f.startsWith('bin/'));
    expect(natives.length).toBeGreaterThan(0);
    for (const f of natives) expect(f).toMatch(/^bin\/napi-v\d+\/linux\/x64\//);
    const mb = sizeOf(dir) / 2 ** 20;
    console.log(
      `serving bundle: ${mb.toFixed(1)} MB unzipped (index.mjs ${(statSync(join(dir, 'index.mjs')).size / 2 ** 20).toFixed(1)} MB)`,
    );
    expect(mb).toBeLessThan(250);
  });

  it('load ONNX in the serving bundle alone: onnxruntime-node from its own folder runs the fixture model', () => {
    const fn = ours().find(isServing)!;
    const dir = copyAlone(fn, root);
    const model = join(process.cwd(), 'test/fixtures/onnx/classifier/model.onnx');
    const script = `const ort = await import('onnxruntime-node'); const s = await ort.InferenceSession.create(${JSON.stringify(model)}); console.log(JSON.stringify({ inputs: s.inputNames, resolved: import.meta.resolve('onnxruntime-node') }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LAMBDA_TASK_ROOT: dir },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect({ status: r.status, stderr: r.stderr.slice(0, 500) }).toEqual({ status: 0, stderr: '' });
    const out = JSON.parse(r.stdout) as { inputs: string[]; resolved: string };
    expect(out.inputs.length).toBeGreaterThan(0);
    expect(out.resolved).toContain(`${dir}/node_modules/${ONNX_PACKAGE}/`);
  });

  it('carry no local-only code: no PGlite, pg, in-process state-machine runner (nor client-lambda, jsonata, ajv), Prometheus client or CDK', () => {
    const forbidden = new Set<string>([...LOCAL_ONLY_PACKAGES, '@aws-sdk/client-lambda', 'jsonata', 'ajv', 'asl-validator']);
    const offenders = ours().flatMap((fn) =>
      [...bundledPackages(fn)].filter((p) => forbidden.has(p)).map((p) => `${fn.logicalId} bundles ${p}`),
    );
    expect(offenders).toEqual([]);
  });

  it('carry Cedar (code, WebAssembly and policies) only in the functions that decide promotions', () => {
    const deciding = ours().filter((fn) => servedRoutes(fn).some((id) => (POLICY_DECIDING_ROUTES as readonly string[]).includes(id)));
    expect(deciding).toHaveLength(new Set(POLICY_DECIDING_ROUTES.map((id) => ROUTE_FUNCTION[id])).size);
    for (const fn of ours()) {
      const decides = deciding.includes(fn);
      expect({ fn: fn.logicalId, cedar: bundledPackages(fn).has('@cedar-policy/cedar-wasm') }).toEqual({
        fn: fn.logicalId,
        cedar: decides,
      });
      expect({
        fn: fn.logicalId,
        wasm: existsSync(join(fn.assetDir, 'cedar_wasm_bg.wasm')),
        policies: existsSync(join(fn.assetDir, 'policies/sentinelnet.cedar')),
      }).toEqual({ fn: fn.logicalId, wasm: decides, policies: decides });
    }
  });

  it('carry the EventBridge client only in the event dispatcher (the one role that may PutEvents on the bus)', () => {
    const carriers = ours()
      .filter((fn) => bundledPackages(fn).has('@aws-sdk/client-eventbridge'))
      .map((fn) => fn.logicalId);
    expect(carriers).toEqual([expect.stringMatching(/^EventsDispatchjobFunction/)]);
  });

  it('carry policies/drift.json (and no other policy) exactly in the functions that read the drift configuration', () => {
    const readers = ours().filter((fn) => fn.environment.AEGIS_DRIFT_POLICY !== undefined);
    // the drift step, the drift-schedule job and the function serving POST /v1/drift/runs
    expect(readers.map((fn) => fn.logicalId).sort()).toEqual([
      expect.stringMatching(/^DriftSchedulejobFunction/),
      expect.stringMatching(/^DriftdriftStepFunction/),
      expect.stringMatching(/^FunctionsdriftRunsFunction/),
    ]);
    const source = readFileSync(join(REPO_ROOT, 'policies', 'drift.json'), 'utf8');
    for (const fn of ours()) {
      const shipped = existsSync(join(fn.assetDir, 'drift.json'));
      expect({ fn: fn.logicalId, shipped }).toEqual({ fn: fn.logicalId, shipped: readers.includes(fn) });
      if (shipped) {
        expect(fn.environment.AEGIS_DRIFT_POLICY).toBe('/var/task/drift.json');
        expect(readFileSync(join(fn.assetDir, 'drift.json'), 'utf8')).toBe(source);
      }
    }
  });

  it('do not load source maps at start (the map stays an external file)', () => {
    for (const fn of ours()) {
      expect(fn.environment.NODE_OPTIONS ?? '').not.toMatch(/enable-source-maps/);
      expect(readFileSync(join(fn.assetDir, fn.moduleFile), 'utf8')).not.toMatch(/sourceMappingURL=data:/);
    }
  });
});
