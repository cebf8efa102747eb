import { API_FUNCTION_NAMES, apiFunctionEntry } from '../../lib/platform/http/route-functions.js';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { App, Stack, Validations, type NestedStack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll } from '@jest/globals';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ROUTES } from '../../lib/platform/http/routes.js';
import { AegisStack, REPO_ROOT } from '../../lib/infra/aegis-stack.js';
import type { AegisStackProps } from '../../lib/infra/aegis-stack-props.js';
import { MUTUAL_TLS_CONTEXT, type MutualTlsDomain } from '../../lib/infra/mutual-tls.js';
import type { ReplicationTarget } from '../../lib/infra/replication.js';

/** The context `cdk` passes from cdk.json (feature flags included), so tests synth what the CLI synths. */
export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')).context;

/** A cross-region replication target, as the `replica…` context keys of bin/cdk.ts give it. */
export const REPLICA: ReplicationTarget = {
  region: 'eu-central-1',
  artifactBucketArn: 'arn:aws:s3:::aegis-dr-artifacts',
  auditArchiveBucketArn: 'arn:aws:s3:::aegis-dr-audit-archive',
  kmsKeyArn: 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
};

/** A custom domain with mutual TLS, as the `domainName`, `certificateArn` and `mtls…` context keys of bin/cdk.ts give it. */
export const MTLS: Required<MutualTlsDomain> = {
  domainName: 'api.aegis.example.com',
  certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/1234abcd-12ab-34cd-56ef-1234567890ab',
  truststoreUri: 's3://aegis-truststore/clients/ca-bundle.pem',
  truststoreVersion: '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY',
};

/** {@link MTLS} as CDK context (bin/cdk.ts's keys). */
export const MTLS_CONTEXT: Record<string, string> = Object.fromEntries(
  Object.entries(MUTUAL_TLS_CONTEXT).map(([prop, key]) => [key, MTLS[prop as keyof MutualTlsDomain]]),
);

/** Handler files the stack builds besides the route entries. */
export const NON_ROUTE_ENTRIES = [
  'lambdas/migrate.ts',
  'lambdas/rollout-step.ts',
  'lambdas/pending-upload-expiry.ts',
  'lambdas/audit-checkpoint.ts',
  'lambdas/pending-promotion-expiry.ts',
  'lambdas/serving-ingest.ts',
  'lambdas/serving-retention.ts',
  'lambdas/drift-step.ts',
  'lambdas/register-step.ts',
  'lambdas/drift-schedule.ts',
  'lambdas/event-dispatch.ts',
] as const;

/**
 * A throwaway project root with an empty handler at every entry the stack names, so the
 * infra tests neither bundle nor depend on the real handlers. AegisFunction checks that
 * the entry file exists even when bundling is skipped. The real `statemachines/` and
 * `policies/` are copied in: the stack reads the ASL at synth time.
 */
export function stubProjectRoot(): { root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'aegis-infra-'));
  writeFileSync(join(root, 'package-lock.json'), '{}');
  for (const entry of [...Object.values(ROUTES).map((r) => r.entry), ...API_FUNCTION_NAMES.map(apiFunctionEntry), ...NON_ROUTE_ENTRIES]) {
    mkdirSync(dirname(join(root, entry)), { recursive: true });
    writeFileSync(join(root, entry), 'export const handler = async () => ({});\n');
  }
  for (const folder of ['statemachines', 'policies']) cpSync(join(REPO_ROOT, folder), join(root, folder), { recursive: true });
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export interface SynthOptions {
  readonly projectRoot: string;
  /**
   * Where the cloud assembly goes. @default a new folder inside `projectRoot`, removed with it
   * (CDK's own default, a `cdk.out*` temp folder, is never removed: ~24 MB a synth, the AWS CLI
   * layer's zip copied into each)
   */
  readonly outdir?: string;
  /** Register cdk-nag's AwsSolutions pack, as bin/cdk.ts does. @default false */
  readonly nag?: boolean;
  readonly props?: Partial<AegisStackProps>;
}

export interface Synthesized {
  readonly app: App;
  readonly stack: AegisStack;
  readonly template: Template;
  readonly nag: AwsSolutionsChecks | undefined;
}

/** Synthesizes one test stack without bundling and without the built-in CloudFormation validation (~3.5 s). */
export function synthAegis(opts: SynthOptions): Synthesized {
  const app = new App({
    context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
    outdir: opts.outdir ?? mkdtempSync(join(opts.projectRoot, 'cdk.out-')),
  });
  const stack = new AegisStack(app, 'aegis-test', {
    envName: 'test',
    deployNonce: 'test-deploy',
    projectRoot: opts.projectRoot,
    ...opts.props,
  });
  let nag: AwsSolutionsChecks | undefined;
  if (opts.nag) {
    nag = new AwsSolutionsChecks(app);
    Validations.of(app).addPlugins(nag);
  }
  app.synth();
  return { app, stack, template: Template.fromStack(stack), nag };
}

/** The text of a template value: literals as they are, intrinsics as `<Ref X>` / `<GetAtt X.Y>`, joins flattened. */
export function templateText(v: unknown): string {
  if (typeof v === 'string') return v;
  const o = v as Record<string, any>;
  if (o['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map(templateText).join(o['Fn::Join'][0]);
  if (o.Ref) return `<Ref ${o.Ref}>`;
  if (o['Fn::GetAtt']) return `<GetAtt ${o['Fn::GetAtt'].join('.')}>`;
  return JSON.stringify(v);
}

/**
 * The resources of a nested stack as its parent deploys them: every `Ref` to one of the nested
 * template's parameters replaced by the value the parent passes for it, so references read as
 * they do in the parent's template (`{ Ref: <the function's logical id> }`, the topic's ARN).
 */
export function nestedResources(parent: Template, nested: NestedStack): Record<string, Record<string, any>> {
  const id = Stack.of(nested.nestedStackResource!).resolve(nested.nestedStackResource!.logicalId) as string;
  const passed = (parent.toJSON().Resources[id]?.Properties?.Parameters ?? {}) as Record<string, unknown>;
  const substitute = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(substitute);
    if (typeof v !== 'object' || v === null) return v;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === 'Ref' && typeof o.Ref === 'string' && Object.hasOwn(passed, o.Ref)) return passed[o.Ref];
    return Object.fromEntries(keys.map((k) => [k, substitute(o[k])]));
  };
  return substitute(Template.fromStack(nested).toJSON().Resources) as Record<string, Record<string, any>>;
}

/** Every CloudWatch alarm of the synthesized stack: the main template's and the per-function ones of its nested stack. */
export function allAlarms(synth: Pick<Synthesized, 'template' | 'stack'>): Record<string, Record<string, any>> {
  const nested = nestedResources(synth.template, synth.stack.monitoring.functionAlarms);
  return {
    ...synth.template.findResources('AWS::CloudWatch::Alarm'),
    ...Object.fromEntries(Object.entries(nested).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')),
  };
}

/** The default test stack (these props over it), synthesized once for a block's tests: read the getters in tests and hooks. */
export interface SynthesizedOnce {
  /** the stub project root it was synthesized in ({@link stubProjectRoot}), for more synths in the block */
  readonly root: string;
  readonly synth: Synthesized;
  readonly template: Template;
  readonly resources: Record<string, Record<string, any>>;
}

/**
 * Registers the block's `beforeAll` (a stub project root, the stack synthesized in it) and its
 * `afterAll` (the root removed).
 *
 * @example
 * const s = synthesizedOnce();
 * it('…', () => expect(s.resources.RegisterStateMachine).toBeDefined());
 */
export function synthesizedOnce(props?: Partial<AegisStackProps>): SynthesizedOnce {
  let stub: ReturnType<typeof stubProjectRoot> | undefined;
  let synth: Synthesized | undefined;
  let resources: Record<string, Record<string, any>> = {};
  beforeAll(() => {
    stub = stubProjectRoot();
    synth = synthAegis({ projectRoot: stub.root, props });
    resources = synth.template.toJSON().Resources;
  });
  afterAll(() => stub?.cleanup());
  const synthesized = () => {
    if (!synth) throw new Error('the stack is synthesized in beforeAll');
    return synth;
  };
  return {
    get root() {
      return stub!.root;
    },
    get synth() {
      return synthesized();
    },
    get template() {
      return synthesized().template;
    },
    get resources() {
      return resources;
    },
  };
}

/** An IAM policy statement as the templates hold it. */
export type IamStatement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, any> };

/** A template value that may be one item or a list of them, as a list. */
export const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every Allow statement of the identity policies attached to a role. */
export function statementsOf(template: Template, roleLogicalId: string): IamStatement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => asList(p.Properties.Roles as Record<string, any>[]).some((r) => r.Ref === roleLogicalId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as IamStatement[])
    .filter((s) => s.Effect === 'Allow');
}

/** Every role whose identity policies allow `action` (by name, never a wildcard here) on a resource naming `logicalId`. */
export function rolesAllowing(template: Template, action: string, logicalId: string): string[] {
  const out = new Set<string>();
  for (const p of Object.values(template.findResources('AWS::IAM::Policy')))
    for (const s of p.Properties.PolicyDocument.Statement as IamStatement[])
      if (s.Effect === 'Allow' && asList(s.Action).includes(action) && JSON.stringify(s.Resource).includes(`"${logicalId}"`))
        for (const r of asList(p.Properties.Roles as Record<string, any>[])) out.add(r.Ref as string);
  return [...out].sort();
}
