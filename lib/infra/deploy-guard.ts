/**
 * The deploy guard (`aegis deploy-guard`, run by the example workflow before a protected-branch
 * deploy): an environment may be deployed only with its entry in the per-environment file and a
 * synthesized stack whose Aegis functions run with `REQUIRE_KMS=true`, both KMS signing key ids
 * (Ed25519 keys when the stack makes them), no ephemeral dev keys, no test-only key relaxations,
 * `NODE_ENV=production`, and whose artifact and audit archive buckets have Object Lock (the audit
 * archive's default retention in COMPLIANCE mode).
 *
 * It reads the cloud assembly (`cdk synth` output) rather than trusting flags: those settings are
 * made by the stack's code, not by `environments.json`, so the template is where a change that
 * weakens them shows. Deploy that same assembly (`cdk deploy --app cdk.out`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvSchema } from '../platform/config-env.js';
import { loadEnvironments } from './environments.js';

/** One thing that must change before the deploy; `where` lists the resources (logical ids) it was found in. */
export interface GuardProblem {
  readonly field: string;
  readonly message: string;
  readonly where: readonly string[];
}

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}
type Resources = Readonly<Record<string, Resource>>;

/** A synthesized stack: its template and its nested stacks' templates, by file name. */
export interface StackTemplates {
  readonly stackName: string;
  readonly templates: ReadonlyArray<{ readonly file: string; readonly resources: Resources }>;
}

const SIGNING_KEY_VARS = ['MANIFEST_SIGNING_KMS_KEY_ID', 'AUDIT_SIGNING_KMS_KEY_ID'] as const;
const BUCKET_VARS = [
  { variable: 'MODEL_REGISTRY_S3_BUCKET', what: 'the artifact bucket', compliance: false },
  { variable: 'AEGIS_AUDIT_ARCHIVE_BUCKET', what: 'the audit archive bucket', compliance: true },
] as const;
// the variables Aegis's config reads, less the generic ones every function may carry
const AEGIS_VARS = new Set(Object.keys(EnvSchema.shape).filter((k) => k !== 'NODE_ENV' && !k.startsWith('AWS_')));
const truthy = (v: unknown) => v === 'true' || v === '1';

interface Artifact {
  type?: string;
  dependencies?: string[];
  properties?: { templateFile?: string; file?: string };
}

/**
 * The stack's templates from a cloud assembly folder (`cdk.out`): the stack named in
 * `manifest.json`, and its nested stacks' templates (file assets of the stack's asset manifest).
 *
 * @example readAssembly('cdk.out', 'aegis-prod').templates.map((t) => t.file) // ['aegis-prod.template.json', 'aegisprodConsole….nested.template.json']
 */
export function readAssembly(dir: string, stackName: string): StackTemplates {
  const read = (file: string): unknown => {
    const path = join(dir, file);
    if (!existsSync(path)) throw new Error(`${path}: not found (run cdk synth first)`);
    return JSON.parse(readFileSync(path, 'utf8'));
  };
  const artifacts = (read('manifest.json') as { artifacts?: Record<string, Artifact> }).artifacts ?? {};
  const stack = artifacts[stackName];
  if (stack?.type !== 'aws:cloudformation:stack' || !stack.properties?.templateFile) {
    const stacks = Object.entries(artifacts).filter(([, a]) => a.type === 'aws:cloudformation:stack');
    throw new Error(`${join(dir, 'manifest.json')}: no stack ${stackName} (stacks: ${stacks.map(([n]) => n).join(', ') || 'none'})`);
  }
  const nested = (stack.dependencies ?? [])
    .map((d) => artifacts[d])
    .filter((a) => a?.type === 'cdk:asset-manifest' && a.properties?.file)
    .flatMap((a) => Object.values((read(a!.properties!.file!) as { files?: Record<string, { source?: { path?: string } }> }).files ?? {}))
    .map((f) => f.source?.path ?? '')
    .filter((path) => path.endsWith('.nested.template.json'));
  return {
    stackName,
    templates: [stack.properties.templateFile, ...new Set(nested)].map((file) => ({
      file,
      resources: ((read(file) as { Resources?: Resources }).Resources ?? {}) as Resources,
    })),
  };
}

/** The logical id a `{ Ref: id }` or `{ 'Fn::GetAtt': [id, …] }` points at; undefined for anything else. */
function referenced(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as { Ref?: unknown; 'Fn::GetAtt'?: unknown };
  if (typeof v.Ref === 'string') return v.Ref;
  const att = v['Fn::GetAtt'];
  return Array.isArray(att) && typeof att[0] === 'string' ? att[0] : undefined;
}

const show = (v: unknown) => (v === undefined ? 'unset' : `is ${JSON.stringify(v)}`);

/** What the stack's templates would deploy that the guard refuses (empty: nothing). */
export function templateProblems(stack: StackTemplates): GuardProblem[] {
  const found = new Map<string, { field: string; message: string; where: Set<string> }>();
  const add = (field: string, message: string, where: string) => {
    const key = `${field}\0${message}`;
    const p = found.get(key) ?? { field, message, where: new Set<string>() };
    p.where.add(where);
    found.set(key, p);
  };
  let functions = 0;
  for (const { file, resources } of stack.templates) {
    for (const [id, fn] of Object.entries(resources)) {
      if (fn.Type !== 'AWS::Lambda::Function') continue;
      const vars = ((fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<
        string,
        unknown
      >;
      if (!Object.keys(vars).some((k) => AEGIS_VARS.has(k))) continue; // a CDK helper (custom resources, deployments)
      functions++;
      const where = stack.templates.length > 1 && file !== stack.templates[0]!.file ? `${file}:${id}` : id;
      if (vars.REQUIRE_KMS !== 'true') add('REQUIRE_KMS', `must be "true" (${show(vars.REQUIRE_KMS)})`, where);
      if (vars.NODE_ENV !== 'production') add('NODE_ENV', `must be "production" (${show(vars.NODE_ENV)})`, where);
      if (vars.DEV_ALLOW_EPHEMERAL !== undefined && vars.DEV_ALLOW_EPHEMERAL !== 'false')
        add('DEV_ALLOW_EPHEMERAL', `allows ephemeral dev keys: must be unset or "false" (${show(vars.DEV_ALLOW_EPHEMERAL)})`, where);
      if (truthy(vars.AEGIS_TEST_ALLOW_P256_KMS_KEYS))
        add('AEGIS_TEST_ALLOW_P256_KMS_KEYS', 'a test-only relaxation of the signing key spec: must be unset', where);
      for (const variable of SIGNING_KEY_VARS) {
        const value = vars[variable];
        if (value === undefined || value === '') {
          add(variable, 'missing: signing needs a KMS key id', where);
          continue;
        }
        const keyId = referenced(value);
        const key = keyId === undefined ? undefined : resources[keyId];
        if (
          key &&
          (key.Type !== 'AWS::KMS::Key' || key.Properties?.KeySpec !== 'ECC_NIST_EDWARDS25519' || key.Properties.KeyUsage !== 'SIGN_VERIFY')
        )
          add(
            variable,
            `${keyId} is not an Ed25519 signing key (${key.Type} ${String(key.Properties?.KeySpec ?? 'SYMMETRIC_DEFAULT')} ${String(key.Properties?.KeyUsage ?? 'ENCRYPT_DECRYPT')})`,
            where,
          );
      }
      for (const { variable, what, compliance } of BUCKET_VARS) {
        const value = vars[variable];
        const bucketId = referenced(value);
        const bucket = bucketId === undefined ? undefined : resources[bucketId];
        if (value === undefined || value === '') add(variable, `missing: ${what} must be an S3 bucket with Object Lock`, where);
        else if (bucket?.Type !== 'AWS::S3::Bucket')
          add(variable, `names a bucket outside this stack (${JSON.stringify(value)}): its Object Lock cannot be checked`, where);
        else {
          const props = bucket.Properties ?? {};
          if (props.ObjectLockEnabled !== true && props.ObjectLockEnabled !== 'true')
            add(`${bucketId}.ObjectLockEnabled`, `${what} (${variable}) must have Object Lock (${show(props.ObjectLockEnabled)})`, where);
          const mode = (props.ObjectLockConfiguration as { Rule?: { DefaultRetention?: { Mode?: unknown } } } | undefined)?.Rule
            ?.DefaultRetention?.Mode;
          if (compliance && mode !== 'COMPLIANCE')
            add(
              `${bucketId}.ObjectLockConfiguration`,
              `${what} (${variable}) must retain in COMPLIANCE mode by default (${show(mode)})`,
              where,
            );
        }
      }
    }
  }
  if (functions === 0)
    add(
      'functions',
      `no Aegis function (one whose environment has Aegis's variables) in ${stack.templates.map((t) => t.file).join(', ')}`,
      stack.stackName,
    );
  return [...found.values()].map((p) => ({ field: p.field, message: p.message, where: [...p.where].sort() }));
}

/** Everything that stops `envName`'s deploy: its entry in the per-environment file, then its synthesized stack. */
export function deployProblems(o: { envName: string; environmentsFile: string; assemblyDir: string }): GuardProblem[] {
  const problems: GuardProblem[] = [];
  const fail = (field: string, e: unknown) => problems.push({ field, message: e instanceof Error ? e.message : String(e), where: [] });
  try {
    if (!loadEnvironments(o.environmentsFile)[o.envName])
      problems.push({
        field: `environments.${o.envName}`,
        message: `no entry in ${o.environmentsFile}: a protected deploy needs one (account, region, role map)`,
        where: [],
      });
  } catch (e) {
    fail(o.environmentsFile, e);
  }
  const stackName = `aegis-${o.envName}`;
  try {
    problems.push(...templateProblems(readAssembly(o.assemblyDir, stackName)));
  } catch (e) {
    fail(stackName, e);
  }
  return problems;
}
