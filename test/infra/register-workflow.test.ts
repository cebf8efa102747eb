import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import type { RouteAccess } from '../../lib/infra/access.js';
import { API_ROUTE_IDS, ROUTE_ACCESS } from '../../lib/infra/api-functions.js';
import { REPO_ROOT } from '../../lib/infra/aegis-stack.js';
import { logicalIdOf } from '../../lib/infra/pin.js';
import { REGISTER_STATE_MACHINE_ARN_VARIABLE } from '../../lib/infra/workflow-access.js';
import { stubProjectRoot, synthAegis, type Synthesized } from './support.js';

type Json = Record<string, any>;
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every Allow statement of the identity policies attached to a role. */
function statementsOf(template: Template, roleLogicalId: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => asList(p.Properties.Roles as Json[]).some((r) => r.Ref === roleLogicalId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
    .filter((s) => s.Effect === 'Allow');
}
/** Every role whose identity policies allow `action` on a resource naming `logicalId`. */
function rolesAllowing(template: Template, action: string, logicalId: string): string[] {
  const out = new Set<string>();
  for (const p of Object.values(template.findResources('AWS::IAM::Policy')))
    for (const s of p.Properties.PolicyDocument.Statement as Statement[])
      if (s.Effect === 'Allow' && asList(s.Action).includes(action) && JSON.stringify(s.Resource).includes(`"${logicalId}"`))
        for (const r of asList(p.Properties.Roles as Json[])) out.add(r.Ref as string);
  return [...out].sort();
}

describe('register workflow on AWS (template)', () => {
  let stub: ReturnType<typeof stubProjectRoot>;
  let synth: Synthesized;
  let template: Template;
  let resources: Record<string, Json>;
  const step = () => synth.stack.registration.registerStep;
  const machineRole = () => (resources.RegisterStateMachine!.Properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

  beforeAll(() => {
    stub = stubProjectRoot();
    synth = synthAegis({ projectRoot: stub.root });
    template = synth.template;
    resources = template.toJSON().Resources as Record<string, Json>;
  });
  afterAll(() => stub.cleanup());

  it('deploys statemachines/register.asl.json unchanged as a Standard machine, every Task invoking the register-step function', () => {
    const props = resources.RegisterStateMachine!.Properties;
    expect(logicalIdOf(synth.stack.registration.stateMachine)).toBe('RegisterStateMachine');
    expect(props.StateMachineType ?? 'STANDARD').toBe('STANDARD');
    const source = JSON.parse(readFileSync(join(REPO_ROOT, 'statemachines', 'register.asl.json'), 'utf8')) as Json;
    expect(JSON.parse(props.DefinitionString as string)).toEqual(source);
    expect(props.DefinitionSubstitutions).toEqual({ RegisterStepArn: { 'Fn::GetAtt': [logicalIdOf(step().function), 'Arn'] } });
    expect((props.DefinitionString as string).match(/"Resource":\s*"\$\{RegisterStepArn\}"/g)).toHaveLength(3);
    expect(props.DefinitionString as string).not.toMatch(/"Resource":\s*"(?!\$\{RegisterStepArn\})/);
    expect(props.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    expect(props.TracingConfiguration).toEqual({ Enabled: true });
  });

  it('gives the register step Lambda’s 15 minutes and a full vCPU, and only its machine may invoke it', () => {
    const fn = resources[logicalIdOf(step().function)]!.Properties;
    expect(fn.Timeout).toBe(900);
    expect(fn.MemorySize).toBe(1769);
    expect(rolesAllowing(template, 'lambda:InvokeFunction', logicalIdOf(step().function))).toEqual([machineRole()]);
    const invokes = statementsOf(template, machineRole()).filter((s) => asList(s.Action).includes('lambda:InvokeFunction'));
    for (const s of invokes) expect(JSON.stringify(s.Resource)).toContain(logicalIdOf(step().function));
  });

  it('lets the register step read and commit on the artifact bucket only (no delete, no multipart, no archive or drift bucket) and sign with both keys', () => {
    const role = logicalIdOf(step().role);
    const statements = statementsOf(template, role);
    const actions = statements.flatMap((s) => asList(s.Action));
    expect(actions).toEqual(expect.arrayContaining(['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject', 's3:PutObjectRetention']));
    for (const forbidden of ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:BypassGovernanceRetention', 's3:AbortMultipartUpload'])
      expect(actions).not.toContain(forbidden);
    expect(actions.filter((a) => /^s3:ListBucketMultipartUploads|^s3:ListMultipartUploadParts|^states:/.test(a))).toEqual([]);
    const objectStatements = statements.filter((s) => asList(s.Action).some((a) => /^s3:(Get|Put)Object/.test(a)));
    for (const s of objectStatements) expect(JSON.stringify(s.Resource)).toContain('ArtifactBucket');
    // beyond the startup checks every function makes (each bucket's Object Lock configuration)
    const beyondStartup = statements.filter((st) => asList(st.Action).some((a) => a !== 's3:GetBucketObjectLockConfiguration'));
    expect(JSON.stringify(beyondStartup)).not.toMatch(/AuditArchiveBucket"|DriftBucket/);
    expect(rolesAllowing(template, 'kms:Sign', 'ManifestSigningKey')).toContain(role);
    expect(rolesAllowing(template, 'kms:Sign', 'AuditSigningKey')).toContain(role);
  });

  it('lets only the register route start it, with its ARN in that function’s environment and no other', () => {
    const starters = API_ROUTE_IDS.filter((id) => (ROUTE_ACCESS[id] as RouteAccess).startRegistrations === true);
    expect(starters).toEqual(['register']);
    const registerRole = logicalIdOf(synth.stack.apiFunctions.functions.register.role);
    expect(rolesAllowing(template, 'states:StartExecution', 'RegisterStateMachine')).toEqual([registerRole]);
    const withArn = Object.entries(template.findResources('AWS::Lambda::Function'))
      .filter(([, f]) => f.Properties.Environment?.Variables?.[REGISTER_STATE_MACHINE_ARN_VARIABLE] !== undefined)
      .map(([id]) => id);
    expect(withArn).toEqual([logicalIdOf(synth.stack.apiFunctions.functions.register.function)]);
    expect(resources[withArn[0]!]!.Properties.Environment.Variables[REGISTER_STATE_MACHINE_ARN_VARIABLE]).toEqual({
      Ref: 'RegisterStateMachine',
    });
  });

  it('alarms to the stack topic when registrations fail or time out, and names the machine in an output', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((a) =>
      JSON.stringify(a.Properties.Metrics ?? []).includes('RegisterStateMachine'),
    );
    expect(alarms).toHaveLength(1);
    const metrics = (alarms[0]!.Properties.Metrics as Json[]).filter((m) => m.MetricStat);
    expect(metrics.map((m) => m.MetricStat.Metric.MetricName).sort()).toEqual(['ExecutionsFailed', 'ExecutionsTimedOut']);
    expect(alarms[0]!.Properties).toMatchObject({ Threshold: 1, EvaluationPeriods: 1, TreatMissingData: 'notBreaching' });
    expect(JSON.stringify(alarms[0]!.Properties.AlarmActions)).toContain('AlarmTopic');
    expect(template.toJSON().Outputs.RegisterStateMachineArn.Value).toEqual({ Ref: 'RegisterStateMachine' });
  });
});
