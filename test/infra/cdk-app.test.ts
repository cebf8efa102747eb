import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../lib/infra/aegis-stack.js';
import { CDK_JSON_CONTEXT } from './support.js';

/**
 * Runs bin/cdk.ts the way the cdk CLI does (context in CDK_CONTEXT_JSON, assembly to
 * CDK_OUTDIR), minus bundling and the built-in template validation. Needs the real
 * handler files, which NodejsFunction checks exist.
 */
function runApp(context: Record<string, unknown>, outdir: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, CDK_OUTDIR: outdir, CDK_VALIDATION: 'false', CDK_CONTEXT_JSON: JSON.stringify({ ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context }) };
  delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not for the child
  return spawnSync(process.execPath, ['--import', 'tsx', 'bin/cdk.ts'], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 120_000 });
}

describe('bin/cdk.ts', () => {
  const outdirs: string[] = [];
  const newOutdir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegis-app-'));
    outdirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
  });

  it('synthesizes one stack named after -c env, with the role map from context and cdk-nag passing', () => {
    const outdir = newOutdir();
    const roleMap = { 'arn:aws:iam::123456789012:role/ci': 'publisher' };
    const run = runApp({ env: 'staging', roleMap: JSON.stringify(roleMap) }, outdir);
    expect({ status: run.status, stderr: run.stderr.replace(/^npm warn .*\n/gm, '') }).toEqual({ status: 0, stderr: expect.not.stringMatching(/Error/) });
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
    const stacks = Object.entries(manifest.artifacts as Record<string, { type: string; environment?: string }>).filter(([, a]) => a.type === 'aws:cloudformation:stack');
    expect(stacks.map(([name, a]) => [name, a.environment])).toEqual([['aegis-staging', 'aws://unknown-account/unknown-region']]);
    const template = JSON.parse(readFileSync(join(outdir, 'aegis-staging.template.json'), 'utf8'));
    const roleMaps = Object.values(template.Resources as Record<string, any>)
      .filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.AEGIS_IAM_ROLE_MAP)
      .map((r) => r.Properties.Environment.Variables.AEGIS_IAM_ROLE_MAP);
    expect(roleMaps.length).toBeGreaterThan(0);
    expect(new Set(roleMaps)).toEqual(new Set([JSON.stringify(roleMap)]));
  });

  it('refuses a role map in context that is not JSON', () => {
    const run = runApp({ roleMap: '{not json' }, newOutdir());
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('context roleMap is not JSON');
  });
});
