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

/**
 * Runs cfn-lint once over every template (its start-up, loading the resource specs, is most of
 * its time): the findings per template path, or `undefined` when cfn-lint is not installed
 * (outside CI only).
 */
function cfnLint(templatePaths: string[]): { status: number | null; output: Map<string, string> } | undefined {
  // W3005 (DependsOn already implied by a Ref/GetAtt) is noise from how CDK renders dependencies.
  const run = spawnSync('cfn-lint', ['-i', 'W3005', '--format', 'parseable', '--', ...templatePaths], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  const error = run.error as NodeJS.ErrnoException | undefined;
  if (error?.code === 'ENOENT' && !process.env.CI) {
    // Outside CI a machine may lack it; CI must have it (this branch is refused there).
    console.warn(`cfn-lint is not on PATH, so the templates were only checked for dangling references`);
    return undefined;
  }
  expect(error).toBeUndefined();
  // parseable: one finding a line, `<file>:<line>:<column>:<end line>:<end column>:<rule>:<message>`
  const output = new Map(templatePaths.map((p) => [p, '']));
  const unattributed: string[] = [];
  for (const line of `${run.stdout}${run.stderr}`.split('\n').filter(Boolean)) {
    const path = templatePaths.find((p) => line.startsWith(`${p}:`));
    if (path) output.set(path, `${output.get(path)}${line}\n`.trimStart());
    else unattributed.push(line);
  }
  expect(unattributed).toEqual([]);
  return { status: run.status, output };
}

const VARIANTS = [
  ['synthesized template', {}],
  ['synthesized template with cross-region replication', { replication: REPLICA }],
  ['synthesized template with mutual TLS', { mutualTls: MTLS }],
] as const;
const synthesized = new Map<string, { templatePath: string; template: Json; nestedPaths: string[] }>();
let lint: ReturnType<typeof cfnLint>;
let stub: ReturnType<typeof stubProjectRoot>;
const outdirs: string[] = [];

beforeAll(() => {
  stub = stubProjectRoot();
  for (const [name, props] of VARIANTS) {
    const outdir = mkdtempSync(join(tmpdir(), 'aegis-cdk-out-'));
    outdirs.push(outdir);
    const { stack } = synthAegis({ projectRoot: stub.root, outdir, props });
    const templatePath = join(outdir, stack.templateFile);
    // the function alarms' nested stack, and the web console's (off with mutual TLS): templates of their own
    const nestedPaths = [stack.monitoring.functionAlarms, ...(stack.console ? [stack.console] : [])].map((n) =>
      join(outdir, n.templateFile),
    );
    synthesized.set(name, { templatePath, template: JSON.parse(readFileSync(templatePath, 'utf8')), nestedPaths });
  }
  lint = cfnLint([...synthesized.values()].flatMap((s) => [s.templatePath, ...s.nestedPaths]));
}, 600_000);
afterAll(() => {
  stub?.cleanup();
  for (const outdir of outdirs) rmSync(outdir, { recursive: true, force: true });
});

describe.each(VARIANTS)('%s', (name) => {
  const of = () => synthesized.get(name) as { templatePath: string; template: Json; nestedPaths: string[] };

  it('passes cfn-lint', () => {
    if (lint === undefined) {
      expect(danglingReferences(of().template)).toEqual([]);
      return;
    }
    expect(lint.output.get(of().templatePath)).toBe('');
    for (const nested of of().nestedPaths) expect(lint.output.get(nested)).toBe('');
    const all = [...synthesized.values()].flatMap((s) => [s.templatePath, ...s.nestedPaths]);
    if (all.every((p) => lint?.output.get(p) === '')) expect(lint.status).toBe(0);
  });

  it('only references resources, parameters and pseudo parameters it defines', () => {
    expect(danglingReferences(of().template)).toEqual([]);
    for (const nested of of().nestedPaths) expect(danglingReferences(JSON.parse(readFileSync(nested, 'utf8')))).toEqual([]);
    for (const res of Object.values(of().template.Resources as Json))
      expect(res.Type).toMatch(/^(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+|Custom::[A-Za-z0-9]+)$/);
  });
});
