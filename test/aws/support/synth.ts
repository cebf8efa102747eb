import { API_ROUTE_IDS, type ApiRouteId } from '../../../lib/platform/http/route-functions.js';
import { ROUTES } from '../../../lib/platform/http/routes.js';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../lib/infra/aegis-stack.js';
import type { RoleMapEntry } from '../../../lib/kernel/identity.js';

/**
 * The environment name and role map the AWS-mode suites synthesize with; each caller is named
 * by its IAM role without the `e2e-` prefix (`world.as('publisher')`, `world.as('churnci')`).
 */
export const E2E_ENV = 'e2e';
export const E2E_ACCOUNT = '123456789012';
export const E2E_ROLE_MAP: Readonly<Record<string, RoleMapEntry>> = {
  [`arn:aws:iam::${E2E_ACCOUNT}:role/e2e-admin`]: 'admin',
  [`arn:aws:iam::${E2E_ACCOUNT}:role/e2e-publisher`]: 'publisher',
  [`arn:aws:iam::${E2E_ACCOUNT}:role/e2e-promoter`]: 'promoter',
  [`arn:aws:iam::${E2E_ACCOUNT}:role/e2e-approver`]: 'approver',
  [`arn:aws:iam::${E2E_ACCOUNT}:role/e2e-operator`]: 'operator',
  [`arn:aws:iam::${E2E_ACCOUNT}:role/e2e-auditor`]: 'auditor',
  [`arn:aws:iam::${E2E_ACCOUNT}:role/e2e-security`]: 'security',
  [`arn:aws:iam::${E2E_ACCOUNT}:role/e2e-reader`]: 'reader',
  // calls the serving route (test/aws/serving.test.ts)
  [`arn:aws:iam::${E2E_ACCOUNT}:role/e2e-invoker`]: 'invoker',
  // scoped: an auditor of the churn team's models only (prefix `e2e-churn`)
  [`arn:aws:iam::${E2E_ACCOUNT}:role/e2e-churnci`]: { role: 'auditor', prefixes: ['e2e-churn'] },
  [`arn:aws:iam::${E2E_ACCOUNT}:role/e2e-fraudci`]: { role: 'auditor', prefixes: ['e2e-fraud'], teams: ['fraud'] },
};

export interface Assembly {
  /** the cloud assembly folder (`cdk.out`) */
  outdir: string;
  stackName: string;
  template: { Resources: Record<string, { Type: string; Properties?: any; DependsOn?: unknown }>; Outputs?: Record<string, any> };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function runCdkSynth(outdir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const { NODE_OPTIONS: _jest, ...env } = process.env;
    const args = [
      'cdk',
      'synth',
      '--quiet',
      '-o',
      outdir,
      '-c',
      `env=${E2E_ENV}`,
      '-c',
      `roleMap=${JSON.stringify(E2E_ROLE_MAP)}`,
      // the console's hosting (CloudFront, Cognito; template-tested in test/infra/console-hosting.test.ts) runs in no emulator
      '-c',
      'console=false',
    ];
    const child = spawn('npx', args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`cdk synth exited ${code}:\n${output.slice(-4000)}`))));
  });
}

/**
 * `cdk synth` of the real app (bundling included) once per test run, shared by every suite
 * that asks: the first caller synthesizes into the run's scratch folder while the others
 * wait for its marker. The assembly is what `cdk deploy` would upload.
 */
export async function sharedAssembly(): Promise<Assembly> {
  // development only: reuse an assembly from an earlier run (`AEGIS_TEST_ASSEMBLY=<cdk.out of aegis-e2e>`)
  const reuse = process.env.AEGIS_TEST_ASSEMBLY;
  if (reuse && !process.env.CI) {
    const stackName = `aegis-${E2E_ENV}`;
    return { outdir: reuse, stackName, template: JSON.parse(readFileSync(join(reuse, `${stackName}.template.json`), 'utf8')) };
  }
  const runDir = process.env.AEGIS_TEST_RUN_DIR ?? mkdtempSync(join(tmpdir(), 'aegis-run-'));
  process.env.AEGIS_TEST_RUN_DIR = runDir;
  const outdir = join(runDir, 'cdk.out');
  const done = join(runDir, 'synth.done');
  const failed = join(runDir, 'synth.failed');
  const stackName = `aegis-${E2E_ENV}`;
  let mine = false;
  try {
    mkdirSync(join(runDir, 'synth.lock'));
    mine = true;
  } catch {
    /* another suite is synthesizing */
  }
  if (mine) {
    try {
      await runCdkSynth(outdir);
      writeFileSync(done, stackName);
    } catch (e) {
      writeFileSync(failed, (e as Error).message);
      throw e;
    }
  } else {
    const deadline = Date.now() + 10 * 60_000;
    while (!existsSync(done)) {
      if (existsSync(failed)) throw new Error(`the shared synth failed: ${readFileSync(failed, 'utf8')}`);
      if (Date.now() > deadline) throw new Error('the shared synth did not finish within 10 minutes');
      await sleep(250);
    }
  }
  return { outdir, stackName, template: JSON.parse(readFileSync(join(outdir, `${stackName}.template.json`), 'utf8')) };
}

export interface FunctionAsset {
  logicalId: string;
  /** the folder of its bundle in the assembly */
  assetDir: string;
  /** the module Lambda loads for `Handler` (`index.handler` → `index.mjs`, else `.js`/`.cjs`) */
  moduleFile: string;
  /** the export Lambda calls */
  exportName: string;
  environment: Record<string, unknown>;
  properties: any;
}

/**
 * The API routes a function of the template serves, read from its description as the stack
 * writes it (`functionDescription` in lib/infra/api-functions.ts): `API function <name>: <ids>`,
 * or a single route's `<METHOD> <path>: <summary>`. Empty for functions that serve no route.
 */
export function servedRoutes(fn: FunctionAsset): ApiRouteId[] {
  const d = String(fn.properties.Description ?? '');
  const many = /^API function \w+: (.+)$/.exec(d);
  if (many) return many[1]!.split(', ').filter((id): id is ApiRouteId => (API_ROUTE_IDS as readonly string[]).includes(id));
  return API_ROUTE_IDS.filter((id) => d.startsWith(`${ROUTES[id].method} ${ROUTES[id].path}:`));
}

/** Every Lambda function of the template with its code from this assembly (ours and CDK's framework functions). */
export function functionAssets(assembly: Assembly): FunctionAsset[] {
  const out: FunctionAsset[] = [];
  for (const [logicalId, r] of Object.entries(assembly.template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const key: unknown = r.Properties?.Code?.S3Key;
    if (typeof key !== 'string' || !key.endsWith('.zip')) throw new Error(`${logicalId}: code is not an asset of the assembly`);
    const assetDir = join(assembly.outdir, `asset.${key.slice(0, -'.zip'.length)}`);
    const handler = String(r.Properties.Handler);
    const dot = handler.lastIndexOf('.');
    const base = handler.slice(0, dot);
    const moduleFile = ['.mjs', '.js', '.cjs'].map((ext) => base + ext).find((f) => existsSync(join(assetDir, f)));
    if (!moduleFile) throw new Error(`${logicalId}: no module for handler ${handler} in ${assetDir}`);
    out.push({
      logicalId,
      assetDir,
      moduleFile,
      exportName: handler.slice(dot + 1),
      environment: r.Properties.Environment?.Variables ?? {},
      properties: r.Properties,
    });
  }
  return out;
}

/** Copies a function's bundle alone into a fresh folder outside the repo, as Lambda unpacks it into /var/task. */
export function copyAlone(fn: FunctionAsset, root: string): string {
  const dir = join(root, fn.logicalId);
  cpSync(fn.assetDir, dir, { recursive: true });
  return dir;
}
