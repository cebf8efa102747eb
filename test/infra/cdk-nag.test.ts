import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { MIN_REASON_LENGTH, acknowledge } from '../../lib/infra/acknowledge.js';
import { stubProjectRoot, synthAegis, type Synthesized } from './support.js';

/** Every acknowledgment recorded in the tree: construct path, rule id, reason. */
function acknowledgments(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id, reason }))),
  );
}

describe('cdk-nag AwsSolutions checks', () => {
  let stub: ReturnType<typeof stubProjectRoot>;
  let synth: Synthesized;

  beforeAll(() => {
    stub = stubProjectRoot();
    // Synth itself throws when the pack reports an unacknowledged error.
    synth = synthAegis({ projectRoot: stub.root, nag: true });
  });
  afterAll(() => stub.cleanup());

  it('reports no unacknowledged errors or warnings on the stack', () => {
    const report = synth.nag!.validateScope(synth.app);
    const findings = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('gives every acknowledgment a reason of at least 20 characters', () => {
    const acks = acknowledgments(synth.app);
    expect(acks.length).toBeGreaterThan(0);
    const short = acks.filter((a) => a.reason.trim().length < MIN_REASON_LENGTH);
    expect(short).toEqual([]);
  });

  it('acknowledges missing authorization only on the public health and OpenAPI methods', () => {
    const apig4 = acknowledgments(synth.app).filter((a) => a.id.includes('AwsSolutions-APIG4'));
    expect(apig4.map((a) => a.path.replace(/^.*\/Default\//, '')).sort()).toEqual(['healthz/GET', 'openapi.json/GET']);
  });

  it('acknowledges IAM wildcards only for X-Ray, the artifact objects and the migrate function versions', () => {
    const ids = new Set(acknowledgments(synth.app).filter((a) => a.id.includes('AwsSolutions-IAM5')).map((a) => a.id.replace(/^[A-Za-z]+::/, '')));
    expect([...ids].sort()).toEqual(
      [
        'AwsSolutions-IAM5[Resource::*]',
        'AwsSolutions-IAM5[Resource::<ArtifactBucket.Arn>/*]',
        expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<Migrationsmigrate[A-Za-z0-9]+\.Arn>:\*\]$/),
      ].sort(),
    );
  });

  it('fails synthesis of an app with an unacknowledged finding (the pack is live)', () => {
    const app = new App({ builtinCloudFormationValidation: false });
    new s3.Bucket(new Stack(app, 'Bad'), 'Unlogged');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
  });

  it('refuses an acknowledgment without a real reason', () => {
    const stack = new Stack(new App(), 'S');
    expect(() => acknowledge(stack, { id: 'AwsSolutions-S1', reason: 'n/a' })).toThrow(`needs a reason of at least ${MIN_REASON_LENGTH} characters`);
  });
});
