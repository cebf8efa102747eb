import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { RouteAccess } from '../../lib/infra/access.js';
import { API_ROUTE_IDS, ROUTE_ACCESS } from '../../lib/infra/api-functions.js';
import { DRIFT_POLICY_PATH } from '../../lib/infra/policies-bundle.js';
import { REPO_ROOT } from '../../lib/infra/aegis-stack.js';
import { DRIFT_STEP_ACCESS, DRIFT_ROUTE_ACCESS } from '../../lib/infra/drift-workflow.js';
import { logicalIdOf } from '../../lib/infra/pin.js';
import { buildStepMachines } from '../../lib/infra/step-machines.js';
import { asList, rolesAllowing, statementsOf, synthAegis, synthesizedOnce, type IamStatement } from './support.js';

type Json = Record<string, any>;

/** The object patterns (`serving-inputs/*`) of a statement's resources on the bucket `bucket`. */
const objectPatterns = (s: IamStatement, bucket: string): string[] =>
  asList(s.Resource as Json[])
    .filter((r) => JSON.stringify(r).includes(`"${bucket}"`))
    .map((r) => {
      const parts = (r['Fn::Join'] as [string, unknown[]] | undefined)?.[1] ?? [];
      return parts.filter((x): x is string => typeof x === 'string').join('');
    })
    .map((tail) => tail.replace(/^\//, ''));

describe('drift workflow on AWS (template)', () => {
  const aegis = synthesizedOnce();
  const driftStep = () => aegis.synth.stack.drift.driftStep;
  const machineRole = () => (aegis.resources.DriftStateMachine!.Properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

  it('deploys statemachines/drift.asl.json unchanged as a Standard machine, every Task invoking the drift-step function by its ARN', () => {
    const props = aegis.resources.DriftStateMachine!.Properties;
    expect(logicalIdOf(aegis.synth.stack.drift.stateMachine)).toBe('DriftStateMachine');
    expect(props.StateMachineType ?? 'STANDARD').toBe('STANDARD');
    expect(props.DefinitionS3Location).toBeUndefined();
    const source = JSON.parse(readFileSync(join(REPO_ROOT, 'statemachines', 'drift.asl.json'), 'utf8')) as Json;
    expect(JSON.parse(props.DefinitionString as string)).toEqual(source);
    expect(props.DefinitionSubstitutions).toEqual({ DriftStepArn: { 'Fn::GetAtt': [logicalIdOf(driftStep().function), 'Arn'] } });
    // the Map's CountShard too: every Task names the placeholder, so every Task gets the drift step
    const tasks = (props.DefinitionString as string).match(/"Resource":\s*"\$\{DriftStepArn\}"/g) ?? [];
    expect(tasks).toHaveLength(4);
    expect(props.DefinitionString as string).not.toMatch(/"Resource":\s*"(?!\$\{DriftStepArn\})/);
  });

  it('logs ALL events with execution data to its own log group, encrypted with the data key (which CloudWatch Logs may use for that group only), and traces', () => {
    expect(aegis.resources.DriftStateMachine!.Properties).toMatchObject({
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': ['DriftStateMachineLogs', 'Arn'] } } }],
      },
      TracingConfiguration: { Enabled: true },
    });
    const group = aegis.resources.DriftStateMachineLogs!;
    expect(group.Properties).toMatchObject({ KmsKeyId: { 'Fn::GetAtt': ['DataKey', 'Arn'] }, RetentionInDays: 365 });
    const statement = (aegis.resources.DataKey!.Properties.KeyPolicy.Statement as Json[]).find((s) => s.Sid === 'DriftExecutionLogs')!;
    const arns = statement.Condition.ArnEquals['kms:EncryptionContext:aws:logs:arn'] as Json[];
    expect(arns.map((a) => JSON.stringify(a))).toEqual([expect.stringContaining(`:log-group:${group.Properties.LogGroupName}"`)]);
  });

  it('gives the machine a role of its own that may invoke the drift-step function and nothing else, and only that role may invoke it', () => {
    const role = machineRole();
    expect(aegis.resources[role]!.Properties.AssumeRolePolicyDocument.Statement.map((s: Json) => s.Principal)).toEqual([
      { Service: 'states.amazonaws.com' },
    ]);
    const statements = statementsOf(aegis.template, role);
    const invoke = statements.filter((s) => asList(s.Action).some((a) => a.startsWith('lambda:')));
    expect(invoke.map((s) => [s.Action, s.Resource])).toEqual([
      ['lambda:InvokeFunction', { 'Fn::GetAtt': [logicalIdOf(driftStep().function), 'Arn'] }],
    ]);
    // the rest: log delivery and X-Ray on "*" (no resource-level permissions), nothing of S3, KMS, the database or other machines
    for (const s of statements.filter((x) => !invoke.includes(x))) {
      expect(s.Resource).toBe('*');
      expect(asList(s.Action).filter((a) => !/^(logs|xray):/.test(a))).toEqual([]);
    }
    expect(rolesAllowing(aegis.template, 'lambda:InvokeFunction', logicalIdOf(driftStep().function))).toEqual([role]);
    const permissions = Object.values(aegis.template.findResources('AWS::Lambda::Permission')).filter((p) =>
      JSON.stringify(p.Properties.FunctionName).includes(logicalIdOf(driftStep().function)),
    );
    expect(permissions).toEqual([]);
  });

  it("reaches only the drift bucket's prefixes it needs: reads serving-inputs/, reads and writes drift-runs/ and drift-reports/, deletes nothing", () => {
    const bucket = logicalIdOf(aegis.synth.stack.storage.driftBucket);
    const statements = statementsOf(aegis.template, logicalIdOf(driftStep().role)).filter((s) =>
      JSON.stringify(s.Resource).includes(`"${bucket}"`),
    );
    const on = (action: string) => statements.filter((s) => asList(s.Action).includes(action));
    expect(on('s3:ListBucket').map((s) => s.Condition)).toEqual([
      { StringLike: { 's3:prefix': ['serving-inputs/*', 'drift-runs/*', 'drift-reports/*'] } },
    ]);
    const patterns = (action: string) =>
      on(action)
        .flatMap((s) => objectPatterns(s, bucket))
        .sort();
    expect(patterns('s3:GetObject')).toEqual(['drift-reports/*', 'drift-runs/*', 'serving-inputs/*']);
    expect(patterns('s3:PutObject')).toEqual(['drift-reports/*', 'drift-runs/*']);
    const actions = new Set(statements.flatMap((s) => asList(s.Action)));
    expect([...actions].sort()).toEqual(['s3:GetObject', 's3:ListBucket', 's3:PutObject']);
    // the data key through S3 for this bucket only
    const kmsViaS3 = statementsOf(aegis.template, logicalIdOf(driftStep().role)).filter(
      (s) => s.Condition?.StringEquals?.['kms:EncryptionContext:aws:s3:arn'] !== undefined,
    );
    expect(kmsViaS3.map((s) => s.Condition!.StringEquals['kms:EncryptionContext:aws:s3:arn'])).toContainEqual({
      'Fn::GetAtt': [bucket, 'Arn'],
    });
    expect(aegis.resources[logicalIdOf(driftStep().function)]!.Properties.Environment.Variables).toMatchObject({
      DRIFT_S3_BUCKET: { Ref: bucket },
      AEGIS_DRIFT_POLICY: DRIFT_POLICY_PATH,
    });
    expect(aegis.resources[logicalIdOf(driftStep().function)]!.Properties.Environment.Variables.AEGIS_POLICIES_DIR).toBeUndefined();
  });

  it('reads artifacts (the baseline), signs with both keys, and starts no execution', () => {
    const role = logicalIdOf(driftStep().role);
    const statements = statementsOf(aegis.template, role);
    const artifacts = statements.filter((s) =>
      JSON.stringify(s.Resource).includes(`"${logicalIdOf(aegis.synth.stack.storage.artifactBucket)}"`),
    );
    expect(
      artifacts.flatMap((s) => asList(s.Action)).filter((a) => /Put|Delete|Retention$/.test(a) && a !== 's3:GetObjectRetention'),
    ).toEqual([]);
    expect(artifacts.flatMap((s) => asList(s.Action))).toContain('s3:GetObject');
    expect(rolesAllowing(aegis.template, 'kms:Sign', 'ManifestSigningKey')).toContain(role);
    expect(rolesAllowing(aegis.template, 'kms:Sign', 'AuditSigningKey')).toContain(role);
    expect(statements.flatMap((s) => asList(s.Action)).filter((a) => a.startsWith('states:'))).toEqual([]);
    expect(DRIFT_STEP_ACCESS).toEqual({
      artifacts: 'read',
      driftStore: { inputs: 'read', runs: 'write', reports: 'write' },
      signManifests: true,
      signAuditEvents: true,
    });
  });

  it('lets only the drift-schedule job and the run-request route start drift executions, with the machine ARN in their environment and nowhere else', () => {
    const starters = [
      logicalIdOf(aegis.synth.stack.driftSchedule.jobFunction.role),
      ...API_ROUTE_IDS.filter((id) => (ROUTE_ACCESS[id] as RouteAccess).startDriftRuns).map((id) =>
        logicalIdOf(aegis.synth.stack.apiFunctions.functions[id].role),
      ),
    ];
    expect(rolesAllowing(aegis.template, 'states:StartExecution', 'DriftStateMachine')).toEqual([...new Set(starters)].sort());
    for (const p of Object.values(aegis.template.findResources('AWS::IAM::Policy')))
      for (const s of p.Properties.PolicyDocument.Statement as IamStatement[])
        if (JSON.stringify(s.Resource).includes('"DriftStateMachine"')) expect(asList(s.Action)).toEqual(['states:StartExecution']);
    const withArn = Object.entries(aegis.template.findResources('AWS::Lambda::Function'))
      .filter(([, f]) => f.Properties.Environment?.Variables?.AEGIS_DRIFT_STATE_MACHINE_ARN !== undefined)
      .map(([id, f]) => [id, f.Properties.Environment.Variables.AEGIS_DRIFT_STATE_MACHINE_ARN]);
    const starterFunctions = [
      aegis.synth.stack.driftSchedule.jobFunction,
      ...API_ROUTE_IDS.filter((id) => (ROUTE_ACCESS[id] as RouteAccess).startDriftRuns).map(
        (id) => aegis.synth.stack.apiFunctions.functions[id],
      ),
    ];
    expect(withArn.sort()).toEqual(
      [...new Set(starterFunctions)].map((f) => [logicalIdOf(f.function), { Ref: 'DriftStateMachine' }]).sort(),
    );
    expect(DRIFT_ROUTE_ACCESS.driftRunRequest).toEqual({ startDriftRuns: true });
    expect(DRIFT_ROUTE_ACCESS.driftReportGet).toEqual({ driftStore: { reports: 'read' } });
  });

  it('runs lambdas/drift-schedule.ts (scheduled export) every 5 minutes, one retry, a dead-letter queue and its alarm, timing out before the next run', () => {
    const job = aegis.synth.stack.driftSchedule;
    const fn = aegis.resources[logicalIdOf(job.jobFunction.function)]!.Properties;
    expect(fn.Handler).toBe('index.scheduled');
    expect(fn.Timeout).toBeLessThan(5 * 60);
    expect(fn.Environment.Variables.AEGIS_DRIFT_POLICY).toBe(DRIFT_POLICY_PATH);
    const rule = aegis.resources[logicalIdOf(job.rule)]!.Properties;
    expect(rule.ScheduleExpression).toBe('rate(5 minutes)');
    expect(rule.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [logicalIdOf(job.jobFunction.function), 'Arn'] },
        RetryPolicy: expect.objectContaining({ MaximumRetryAttempts: 1 }),
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalIdOf(job.deadLetterQueue), 'Arn'] } },
      }),
    ]);
    const alarm = aegis.resources[logicalIdOf(job.failureAlarm)]!.Properties;
    expect(alarm).toMatchObject({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1 });
    expect(alarm.AlarmActions).toEqual([{ Ref: logicalIdOf(aegis.synth.stack.monitoring.topic) }]);
    // nothing but the database, the startup checks, logs, traces, its queue and the drift machine
    const actions = statementsOf(aegis.template, logicalIdOf(job.jobFunction.role)).flatMap((s) => asList(s.Action));
    expect([...new Set(actions.filter((a) => !/^(logs|xray|rds-data|secretsmanager|sqs):/.test(a)))].sort()).toEqual([
      'kms:DescribeKey',
      's3:GetBucketObjectLockConfiguration',
      'states:StartExecution',
    ]);
  });

  it('alarms to the topic on failed, timed-out and aborted drift executions', () => {
    const alarms = Object.values(aegis.template.findResources('AWS::CloudWatch::Alarm')).filter(
      (a) => a.Properties.Namespace === 'AWS/States' && JSON.stringify(a.Properties.Dimensions).includes('"DriftStateMachine"'),
    );
    expect(alarms.map((a) => a.Properties.MetricName).sort()).toEqual(['ExecutionsAborted', 'ExecutionsFailed', 'ExecutionsTimedOut']);
    for (const a of alarms) {
      expect(a.Properties).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
      expect(a.Properties.AlarmActions).toEqual([{ Ref: logicalIdOf(aegis.synth.stack.monitoring.topic) }]);
    }
    expect([...aegis.synth.stack.driftMonitoring.alarms.keys()].sort()).toEqual([
      'drift-executions-aborted',
      'drift-executions-failed',
      'drift-executions-timed-out',
      'drift-suggestion-raised',
    ]);
    // a suggestion's series carry its model: a Metrics Insights query sums them for the alarm
    const [raised, ...more] = Object.values(aegis.template.findResources('AWS::CloudWatch::Alarm')).filter((a) =>
      JSON.stringify(a.Properties.Metrics ?? []).includes('SELECT'),
    );
    expect(more).toHaveLength(0);
    expect(raised!.Properties.Metrics).toEqual([
      expect.objectContaining({
        Expression: 'SELECT SUM(ai_infra_drift_suggestions_total) FROM SCHEMA("Aegis", detector, env, model, service)',
        Period: 300,
      }),
    ]);
    expect(raised!.Properties.Threshold).toBe(1);
    expect(raised!.Properties.AlarmActions).toEqual([{ Ref: logicalIdOf(aegis.synth.stack.monitoring.topic) }]);
  });

  it('graphs drift runs (started, failed, duration) and the retrain suggestions raised on the dashboard', () => {
    const body = JSON.stringify(
      aegis.synth.stack.resolve(Object.values(aegis.template.findResources('AWS::CloudWatch::Dashboard'))[0]!.Properties.DashboardBody),
    );
    for (const title of ['Drift runs', 'Drift run duration (s)', 'Retrain suggestions raised', 'Drift alarms'])
      expect(body).toContain(title);
    for (const metric of ['ExecutionsStarted', 'ExecutionsFailed', 'ExecutionTime']) expect(body).toContain(metric);
    expect(body).toContain('MetricName=\\\\\\"ai_infra_drift_suggestions_total\\\\\\"');
  });

  it('outputs the drift state machine ARN and follows driftScheduleRate', () => {
    expect(aegis.template.toJSON().Outputs.DriftStateMachineArn.Value).toEqual({ Ref: 'DriftStateMachine' });
    const other = synthAegis({ projectRoot: aegis.root, props: { driftScheduleRate: Duration.minutes(15) } });
    const rule = other.template.toJSON().Resources[logicalIdOf(other.stack.driftSchedule.rule)].Properties;
    expect(rule.ScheduleExpression).toBe('rate(15 minutes)');
  });
});

describe('buildStepMachines', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'aegis-asl-'));
    mkdirSync(join(root, 'machines'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const build = (asl: Json) => {
    writeFileSync(join(root, 'machines', 'x.asl.json'), JSON.stringify(asl));
    const stack = new Stack(new App(), 'S');
    const step = new lambda.Function(stack, 'Step', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'i.h',
      code: lambda.Code.fromInline('x'),
    });
    return buildStepMachines(stack, {
      projectRoot: root,
      definitionsDir: 'machines',
      machines: [{ name: 'x', logicalId: 'XMachine' }],
      step,
      placeholder: 'StepArn',
      dataKey: new kms.Key(stack, 'Key'),
      keyPolicySid: 'XLogs',
      logRetention: logs.RetentionDays.ONE_DAY,
    });
  };
  const task = (resource: string) => ({ Type: 'Task', Resource: resource, End: true });

  it('builds a machine whose Tasks invoke the placeholder', () => {
    expect(build({ StartAt: 'A', States: { A: task('${StepArn}') } }).stateMachines.x).toBeDefined();
  });

  it('refuses a Task invoking anything else, even inside a Map', () => {
    expect(() => build({ StartAt: 'A', States: { A: task('arn:aws:lambda:eu-west-1:1:function:other') } })).toThrow(
      /Task A must invoke \$\{StepArn\}/,
    );
    const map = { Type: 'Map', ItemProcessor: { StartAt: 'B', States: { B: task('${OtherArn}') } }, End: true };
    expect(() => build({ StartAt: 'M', States: { M: map } })).toThrow(/Task B must invoke \$\{StepArn\}/);
  });

  it('refuses JSONata, which the local runner ignores', () => {
    expect(() => build({ QueryLanguage: 'JSONata', StartAt: 'A', States: { A: task('${StepArn}') } })).toThrow(/JSONPath/);
  });

  it('refuses a definitions folder outside the project root', () => {
    writeFileSync(join(root, 'machines', 'x.asl.json'), '{}');
    expect(() =>
      buildStepMachines(new Stack(new App(), 'S'), {
        projectRoot: root,
        definitionsDir: '/etc',
        machines: [],
        step: {} as lambda.IFunction,
        placeholder: 'StepArn',
        dataKey: {} as kms.IKey,
        keyPolicySid: 'X',
        logRetention: logs.RetentionDays.ONE_DAY,
      }),
    ).toThrow('definitionsDir must be relative to projectRoot');
  });
});
