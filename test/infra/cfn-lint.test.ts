import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MTLS, REPLICA, stubProjectRoot, synthAegis } from './support.js';

type Json = Record<string, any>;

/** Every Ref / Fn::GetAtt target in a template fragment. */
function references(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) references(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'Ref' && typeof v === 'string') out.push(v);
      else if (k === 'Fn::GetAtt' && Array.isArray(v) && typeof v[0] === 'string') out.push(v[0]);
      else references(v, out);
    }
  }
  return out;
}

/** Ref / GetAtt targets that are neither resources, parameters nor pseudo parameters of the template. */
function danglingReferences(template: Json): string[] {
  const defined = new Set([...Object.keys(template.Resources), ...Object.keys(template.Parameters ?? {})]);
  return references([template.Resources, template.Outputs]).filter((r) => !r.startsWith('AWS::') && !defined.has(r));
}

/** Runs cfn-lint on a template file: `undefined` when cfn-lint is not installed (outside CI only). */
function cfnLint(templatePath: string): { status: number | null; output: string } | undefined {
  // W3005 (DependsOn already implied by a Ref/GetAtt) is noise from how CDK renders dependencies.
  const run = spawnSync('cfn-lint', ['-i', 'W3005', '--', templatePath], { encoding: 'utf8', timeout: 120_000 });
  const error = run.error as NodeJS.ErrnoException | undefined;
  if (error?.code === 'ENOENT' && !process.env.CI) {
    // Outside CI a machine may lack it; CI must have it (this branch is refused there).
    console.warn(`cfn-lint is not on PATH, so ${templatePath} was only checked for dangling references`);
    return undefined;
  }
  expect(error).toBeUndefined();
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

describe.each([
  ['synthesized template', {}],
  ['synthesized template with cross-region replication', { replication: REPLICA }],
  ['synthesized template with mutual TLS', { mutualTls: MTLS }],
] as const)('%s', (_name, props) => {
  let stub: ReturnType<typeof stubProjectRoot>;
  let outdir: string;
  let templatePath: string;
  let template: Json;

  beforeAll(() => {
    stub = stubProjectRoot();
    outdir = mkdtempSync(join(tmpdir(), 'aegis-cdk-out-'));
    const { stack } = synthAegis({ projectRoot: stub.root, outdir, props });
    templatePath = join(outdir, stack.templateFile);
    template = JSON.parse(readFileSync(templatePath, 'utf8'));
  });
  afterAll(() => {
    stub.cleanup();
    rmSync(outdir, { recursive: true, force: true });
  });

  it('passes cfn-lint', () => {
    const result = cfnLint(templatePath);
    if (result === undefined) {
      expect(danglingReferences(template)).toEqual([]);
      return;
    }
    expect(result).toEqual({ status: 0, output: '' });
  });

  it('only references resources, parameters and pseudo parameters it defines', () => {
    expect(danglingReferences(template)).toEqual([]);
    for (const res of Object.values(template.Resources as Json))
      expect(res.Type).toMatch(/^(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+|Custom::[A-Za-z0-9]+)$/);
  });
});
