import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RouteAccess } from '../../lib/infra/access.js';
import { API_ROUTE_IDS, ROUTE_ACCESS } from '../../lib/infra/api-functions.js';
import { REPO_ROOT } from '../../lib/infra/aegis-stack.js';
import { logicalIdOf } from '../../lib/infra/pin.js';
import { REGISTER_STATE_MACHINE_ARN_VARIABLE } from '../../lib/infra/workflow-access.js';
import { asList, rolesAllowing, statementsOf, synthesizedOnce } from './support.js';

type Json = Record<string, any>;

describe('register workflow on AWS (template)', () => {
  const aegis = synthesizedOnce();
  const step = () => aegis.synth.stack.registration.registerStep;
  const machineRole = () =>
    (aegis.resources.RegisterStateMachine!.Properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

  it('deploys statemachines/register.asl.json unchanged as a Standard machine, every Task invoking the register-step function', () => {
    const props = aegis.resources.RegisterStateMachine!.Properties;
    expect(logicalIdOf(aegis.synth.stack.registration.stateMachine)).toBe('RegisterStateMachine');
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
    const fn = aegis.resources[logicalIdOf(step().function)]!.Properties;
    expect(fn.Timeout).toBe(900);
    expect(fn.MemorySize).toBe(1769);
    expect(rolesAllowing(aegis.template, 'lambda:InvokeFunction', logicalIdOf(step().function))).toEqual([machineRole()]);
    const invokes = statementsOf(aegis.template, machineRole()).filter((s) => asList(s.Action).includes('lambda:InvokeFunction'));
    for (const s of invokes) expect(JSON.stringify(s.Resource)).toContain(logicalIdOf(step().function));
  });

  it('lets the register step read and commit on the artifact bucket only (no delete, no multipart, no archive or drift bucket) and sign with both keys', () => {
    const role = logicalIdOf(step().role);
    const statements = statementsOf(aegis.template, role);
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
    expect(rolesAllowing(aegis.template, 'kms:Sign', 'ManifestSigningKey')).toContain(role);
    expect(rolesAllowing(aegis.template, 'kms:Sign', 'AuditSigningKey')).toContain(role);
  });

  it('lets only the register function start it, with its ARN in that function’s environment and no other', () => {
    const starters = API_ROUTE_IDS.filter((id) => (ROUTE_ACCESS[id] as RouteAccess).startRegistrations === true);
    // registerInline never starts one, but shares register's function, whose grants its routes must all have
    expect(starters).toEqual(['register', 'registerInline']);
    expect(new Set(starters.map((id) => aegis.synth.stack.apiFunctions.functions[id]))).toEqual(
      new Set([aegis.synth.stack.apiFunctions.functions.register]),
    );
    const registerRole = logicalIdOf(aegis.synth.stack.apiFunctions.functions.register.role);
    expect(rolesAllowing(aegis.template, 'states:StartExecution', 'RegisterStateMachine')).toEqual([registerRole]);
    const withArn = Object.entries(aegis.template.findResources('AWS::Lambda::Function'))
      .filter(([, f]) => f.Properties.Environment?.Variables?.[REGISTER_STATE_MACHINE_ARN_VARIABLE] !== undefined)
      .map(([id]) => id);
    expect(withArn).toEqual([logicalIdOf(aegis.synth.stack.apiFunctions.functions.register.function)]);
    expect(aegis.resources[withArn[0]!]!.Properties.Environment.Variables[REGISTER_STATE_MACHINE_ARN_VARIABLE]).toEqual({
      Ref: 'RegisterStateMachine',
    });
  });

  it('alarms to the stack topic when registrations fail or time out, and names the machine in an output', () => {
    const alarms = Object.values(aegis.template.findResources('AWS::CloudWatch::Alarm')).filter((a) =>
      JSON.stringify(a.Properties.Metrics ?? []).includes('RegisterStateMachine'),
    );
    expect(alarms).toHaveLength(1);
    const metrics = (alarms[0]!.Properties.Metrics as Json[]).filter((m) => m.MetricStat);
    expect(metrics.map((m) => m.MetricStat.Metric.MetricName).sort()).toEqual(['ExecutionsFailed', 'ExecutionsTimedOut']);
    expect(alarms[0]!.Properties).toMatchObject({ Threshold: 1, EvaluationPeriods: 1, TreatMissingData: 'notBreaching' });
    expect(JSON.stringify(alarms[0]!.Properties.AlarmActions)).toContain('AlarmTopic');
    expect(aegis.template.toJSON().Outputs.RegisterStateMachineArn.Value).toEqual({ Ref: 'RegisterStateMachine' });
  });
});
