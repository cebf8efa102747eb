import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { MIN_REASON_LENGTH, acknowledge } from '../../lib/infra/acknowledge.js';
import type { RouteAccess } from '../../lib/infra/access.js';
import { API_ROUTE_IDS, ROUTE_ACCESS } from '../../lib/infra/api-functions.js';
import { logicalIdOf } from '../../lib/infra/pin.js';
import { MTLS, REPLICA, stubProjectRoot, synthAegis, type Synthesized } from './support.js';

/** Every acknowledgment recorded in the tree: construct path, rule id, reason. */
function acknowledgments(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node
    .findAll()
    .flatMap((c) =>
      c.node.metadata
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id, reason }))),
    );
}

/**
 * Every finding the AwsSolutions pack raises on the tree, acknowledged or not: the pack asks
 * whether each one is acknowledged (with its granular id, `AwsSolutions-IAM5[Resource::*]`),
 * so recording those questions lists them all.
 */
function findings(root: IConstruct): { path: string; id: string }[] {
  const pack = new AwsSolutionsChecks();
  const seen: { path: string; id: string }[] = [];
  const probe = pack as unknown as { isAcknowledged(node: IConstruct, ruleId: string): boolean };
  const isAcknowledged = probe.isAcknowledged.bind(pack);
  probe.isAcknowledged = (node, ruleId) => {
    seen.push({ path: node.node.path, id: ruleId });
    return isAcknowledged(node, ruleId);
  };
  pack.validateScope(root);
  return seen;
}

/** Our (cdk-nag) acknowledgments that match no finding on their construct or below it. */
function staleAcknowledgments(root: IConstruct): string[] {
  const raised = findings(root);
  // CDK itself acknowledges a few findings of its built-in CloudFormation-Validate: not ours
  return acknowledgments(root)
    .map((a) => ({ ...a, id: a.id.replace(/^[A-Za-z]+::/, '') }))
    .filter((a) => a.id.startsWith('AwsSolutions-'))
    .filter((a) => !raised.some((f) => f.id === a.id && (f.path === a.path || f.path.startsWith(`${a.path}/`))))
    .map((a) => `${a.path}: ${a.id}`);
}

describe('cdk-nag AwsSolutions checks', () => {
  let stub: ReturnType<typeof stubProjectRoot>;
  let synth: Synthesized;
  let replicated: Synthesized;
  let mutualTls: Synthesized;

  beforeAll(() => {
    stub = stubProjectRoot();
    // Synth itself throws when the pack reports an unacknowledged error.
    synth = synthAegis({ projectRoot: stub.root, nag: true });
    replicated = synthAegis({ projectRoot: stub.root, nag: true, props: { replication: REPLICA } });
    mutualTls = synthAegis({ projectRoot: stub.root, nag: true, props: { mutualTls: MTLS } });
  });
  afterAll(() => stub.cleanup());

  const unacknowledged = (s: Synthesized) =>
    s
      .nag!.validateScope(s.app)
      .violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);

  it('reports no unacknowledged errors or warnings on the stack', () => {
    const report = synth.nag!.validateScope(synth.app);
    expect(unacknowledged(synth)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('reports none either with cross-region replication on', () => {
    expect(unacknowledged(replicated)).toEqual([]);
    expect(replicated.nag!.validateScope(replicated.app).success).toBe(true);
  });

  it('reports none either with mutual TLS on, and acknowledges nothing more for it (the console is off there)', () => {
    expect(unacknowledged(mutualTls)).toEqual([]);
    expect(mutualTls.nag!.validateScope(mutualTls.app).success).toBe(true);
    const ids = (s: Synthesized) =>
      acknowledgments(s.app)
        .map((a) => `${a.path.replace(/^[^/]+\//, '')} ${a.id.replace(/^[A-Za-z]+::/, '')}`)
        .sort();
    expect(mutualTls.stack.console).toBeUndefined();
    expect(ids(mutualTls)).toEqual(ids(synth).filter((id) => !id.startsWith('Console/')));
  });

  it('gives every acknowledgment a reason of at least 20 characters', () => {
    const acks = [...acknowledgments(synth.app), ...acknowledgments(replicated.app), ...acknowledgments(mutualTls.app)];
    expect(acks.length).toBeGreaterThan(0);
    const short = acks.filter((a) => a.reason.trim().length < MIN_REASON_LENGTH);
    expect(short).toEqual([]);
  });

  it('acknowledges only findings the pack really raises, on the construct (or below it) that carries the acknowledgment', () => {
    for (const s of [synth, replicated, mutualTls]) expect(staleAcknowledgments(s.app)).toEqual([]);
    // the check itself: a real finding's acknowledgment passes, one for a finding nothing raises does not
    const app = new App({ builtinCloudFormationValidation: false });
    const bucket = new s3.Bucket(new Stack(app, 'Probe'), 'Unlogged', { enforceSSL: true });
    acknowledge(bucket, { id: 'AwsSolutions-S1', reason: 'a probe bucket of this test, never deployed' });
    acknowledge(bucket, { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'nothing here grants any wildcard at all' });
    expect(staleAcknowledgments(app)).toEqual(['Probe/Unlogged: AwsSolutions-IAM5[Resource::*]']);
  });

  it('names the finding in brackets on every IAM4 and IAM5 acknowledgment, and refuses one that does not', () => {
    const bare = acknowledgments(synth.app).filter((a) => /AwsSolutions-IAM[45]$/.test(a.id));
    expect(bare).toEqual([]);
    expect(() =>
      acknowledge(new Stack(new App(), 'S'), { id: 'AwsSolutions-IAM5', reason: 'every wildcard of this stack, whatever it is' }),
    ).toThrow('must name the finding it covers: AwsSolutions-IAM5[<finding>]');
  });

  it('acknowledges a queue without a DLQ only on the dead-letter queues themselves (scheduled jobs, serving ingest)', () => {
    const sqs3 = acknowledgments(synth.app).filter((a) => a.id.includes('AwsSolutions-SQS3'));
    expect(sqs3.map((a) => a.path).sort()).toEqual(
      [
        synth.stack.auditArchiveSchedule.deadLetterQueue.node.path,
        synth.stack.auditCheckpoint.deadLetterQueue.node.path,
        synth.stack.pendingUploadExpiry.deadLetterQueue.node.path,
        synth.stack.pendingPromotionExpiry.deadLetterQueue.node.path,
        synth.stack.servingRetention.deadLetterQueue.node.path,
        synth.stack.driftSchedule.deadLetterQueue.node.path,
        synth.stack.servingIngest.deadLetterQueue.node.path,
        synth.stack.eventDelivery.dispatcher.deadLetterQueue.node.path,
      ].sort(),
    );
  });

  it('acknowledges missing authorization only on the public health and OpenAPI methods', () => {
    const apig4 = acknowledgments(synth.app).filter((a) => a.id.includes('AwsSolutions-APIG4'));
    // (the console's CORS preflights are OPTIONS methods, which the pack does not flag)
    expect(apig4.map((a) => a.path.replace(/^.*\/Default\//, '')).sort()).toEqual(['healthz/GET', 'openapi.json/GET']);
  });

  /** IAM5 acknowledgment ids, with the migrate function's hashed logical id made stable. */
  const iam5 = (s: Synthesized) =>
    new Set(
      acknowledgments(s.app)
        .filter((a) => a.id.includes('AwsSolutions-IAM5'))
        .map((a) => a.id.replace(/^[A-Za-z]+::/, '').replace(/<Migrationsmigrate[A-Za-z0-9]+\.Arn>/, '<MigrationsmigrateFunction.Arn>')),
    );
  const BASE_IAM5 = [
    'AwsSolutions-IAM5[Resource::*]',
    'AwsSolutions-IAM5[Resource::<ArtifactBucket.Arn>/*]',
    'AwsSolutions-IAM5[Resource::<AuditArchiveBucket.Arn>/audit/*]',
    'AwsSolutions-IAM5[Resource::<AuditArchiveBucket.Arn>/audit/heads/*]',
    'AwsSolutions-IAM5[Resource::<DriftBucket.Arn>/serving-inputs/*]',
    'AwsSolutions-IAM5[Resource::<DriftBucket.Arn>/drift-runs/*]',
    'AwsSolutions-IAM5[Resource::<DriftBucket.Arn>/drift-reports/*]',
    'AwsSolutions-IAM5[Resource::<MigrationsmigrateFunction.Arn>:*]',
  ];

  /** The console's: each group role invokes the API's stage; CDK's BucketDeployment function copies the build. */
  const CONSOLE_IAM5 = [
    'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<RestApiId>/api/*]',
    'AwsSolutions-IAM5[Action::s3:GetBucket*]',
    'AwsSolutions-IAM5[Action::s3:GetObject*]',
    'AwsSolutions-IAM5[Action::s3:List*]',
    'AwsSolutions-IAM5[Action::s3:Abort*]',
    'AwsSolutions-IAM5[Action::s3:DeleteObject*]',
    'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]',
  ];

  it('acknowledges IAM wildcards only for X-Ray (and log delivery), the artifact objects, the audit/ archive objects (audit/heads/ for the head checkpoint job), the drift bucket prefixes (serving, the drift step, the report route), the migrate function versions and the console', () => {
    const consoleBucket = `AwsSolutions-IAM5[Resource::<${logicalIdOf(synth.stack.console!.bucket)}.Arn>/*]`;
    expect([...iam5(synth)].sort()).toEqual([...BASE_IAM5, ...CONSOLE_IAM5, consoleBucket].sort());
    // the console's wildcards only on its group roles (the stage) and CDK's deployment function
    const consoleAcks = acknowledgments(synth.app).filter(
      (a) =>
        a.id.includes('AwsSolutions-IAM5') && (CONSOLE_IAM5.includes(a.id.replace(/^[A-Za-z]+::/, '')) || a.id.endsWith(consoleBucket)),
    );
    const roles = Object.values(synth.stack.console!.identity.groupRoles).map((r) => r.node.path);
    const others = [...new Set(consoleAcks.map((a) => a.path))].filter((p) => !roles.includes(p));
    expect(others).toEqual([expect.stringMatching(/\/Console\/Custom::CDKBucketDeployment[0-9A-F]+$/)]);
    expect(
      consoleAcks
        .filter((a) => a.id.includes('execute-api'))
        .map((a) => a.path)
        .sort(),
    ).toEqual(roles.sort());
    // the drift bucket's prefix wildcards, each on the roles granted that prefix alone
    const drift = acknowledgments(synth.app).filter((a) => a.id.includes('<DriftBucket.Arn>'));
    const at = (prefix: string) => drift.filter((a) => a.id.includes(`/${prefix}*]`)).map((a) => a.path);
    expect(at('serving-inputs/').sort()).toEqual(
      [synth.stack.apiFunctions.functions.servingPredict.role.node.path, synth.stack.drift.driftStep.role.node.path].sort(),
    );
    expect(at('drift-runs/')).toEqual([synth.stack.drift.driftStep.role.node.path]);
    const reportReaders = API_ROUTE_IDS.filter((id) => (ROUTE_ACCESS[id] as RouteAccess).driftStore?.reports).map(
      (id) => synth.stack.apiFunctions.functions[id].role.node.path,
    );
    expect(at('drift-reports/').sort()).toEqual([...new Set([synth.stack.drift.driftStep.role.node.path, ...reportReaders])].sort());
  });

  it('acknowledges Resource::* on the state machines only, for log delivery and X-Ray, and nothing else there', () => {
    const machines = [
      synth.stack.rollouts.stateMachines.promotion,
      synth.stack.rollouts.stateMachines.rollback,
      synth.stack.drift.stateMachine,
    ];
    for (const machine of machines) {
      const acks = acknowledgments(machine).filter((a) => a.path === machine.node.path);
      expect(acks.map((a) => a.id.replace(/^[A-Za-z]+::/, ''))).toEqual(['AwsSolutions-IAM5[Resource::*]']);
      expect(acks[0]!.reason).toMatch(/CloudWatch Logs delivery.*X-Ray/);
    }
    // the rollout step invokes by its unqualified ARN: no version wildcard to acknowledge
    expect([...iam5(synth)].filter((id) => id.includes('rolloutStep'))).toEqual([]);
  });

  it('satisfies the Step Functions rules (SF1 logging ALL, SF2 X-Ray) rather than acknowledging them', () => {
    const sf = [...acknowledgments(synth.app), ...acknowledgments(replicated.app)].filter((a) => /AwsSolutions-SF\d/.test(a.id));
    expect(sf).toEqual([]);
    expect(synth.template.toJSON().Resources.PromotionStateMachine).toBeDefined();
  });

  it('with replication, acknowledges besides those only all objects of the two source buckets and their two replicas', () => {
    expect([...iam5(replicated)].sort()).toEqual(
      [
        ...BASE_IAM5,
        ...CONSOLE_IAM5,
        `AwsSolutions-IAM5[Resource::<${logicalIdOf(replicated.stack.console!.bucket)}.Arn>/*]`,
        'AwsSolutions-IAM5[Resource::<AuditArchiveBucket.Arn>/*]',
        `AwsSolutions-IAM5[Resource::${REPLICA.artifactBucketArn}/*]`,
        `AwsSolutions-IAM5[Resource::${REPLICA.auditArchiveBucketArn}/*]`,
      ].sort(),
    );
    // the whole-bucket wildcard on the audit archive is the replication role's, no function's
    const wholeArchive = acknowledgments(replicated.app).filter((a) =>
      a.id.endsWith('AwsSolutions-IAM5[Resource::<AuditArchiveBucket.Arn>/*]'),
    );
    expect(wholeArchive.map((a) => a.path)).toEqual([replicated.stack.replication!.role.node.path]);
  });

  it('fails synthesis of an app with an unacknowledged finding (the pack is live)', () => {
    const app = new App({ builtinCloudFormationValidation: false });
    new s3.Bucket(new Stack(app, 'Bad'), 'Unlogged');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
  });

  it('refuses an acknowledgment without a real reason', () => {
    const stack = new Stack(new App(), 'S');
    expect(() => acknowledge(stack, { id: 'AwsSolutions-S1', reason: 'n/a' })).toThrow(
      `needs a reason of at least ${MIN_REASON_LENGTH} characters`,
    );
  });
});
