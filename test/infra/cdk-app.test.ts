import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROUTES } from '../../lib/platform/http/routes.js';
import { REPO_ROOT } from '../../lib/infra/aegis-stack.js';
import { loadEnvironments } from '../../lib/infra/environments.js';
import { CDK_JSON_CONTEXT, MTLS, MTLS_CONTEXT, REPLICA, templateText } from './support.js';

/**
 * Runs bin/cdk.ts the way the cdk CLI does (context in CDK_CONTEXT_JSON, assembly to
 * CDK_OUTDIR), minus bundling and the built-in template validation. Needs the real
 * handler files, which AegisFunction checks exist.
 */
/** An environments file with no entries: the app's tests give their settings as context unless they pass their own file. */
const NO_ENVIRONMENTS = join(mkdtempSync(join(tmpdir(), 'aegis-envs-')), 'environments.json');
writeFileSync(NO_ENVIRONMENTS, JSON.stringify({ environments: {} }));

function runApp(context: Record<string, unknown>, outdir: string) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CDK_OUTDIR: outdir,
    CDK_VALIDATION: 'false',
    CDK_CONTEXT_JSON: JSON.stringify({ ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], environmentsFile: NO_ENVIRONMENTS, ...context }),
  };
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

  it('synthesizes one stack named after -c env, with the role map from context, no console with -c console=false, and cdk-nag passing', () => {
    const outdir = newOutdir();
    const roleMap = { 'arn:aws:iam::123456789012:role/ci': 'publisher' };
    const run = runApp({ env: 'staging', roleMap: JSON.stringify(roleMap), console: 'false' }, outdir);
    expect({ status: run.status, stderr: run.stderr.replace(/^npm warn .*\n/gm, '') }).toEqual({
      status: 0,
      stderr: expect.not.stringMatching(/Error/),
    });
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
    const stacks = Object.entries(manifest.artifacts as Record<string, { type: string; environment?: string }>).filter(
      ([, a]) => a.type === 'aws:cloudformation:stack',
    );
    expect(stacks.map(([name, a]) => [name, a.environment])).toEqual([['aegis-staging', 'aws://unknown-account/unknown-region']]);
    const template = JSON.parse(readFileSync(join(outdir, 'aegis-staging.template.json'), 'utf8'));
    const roleMaps = Object.values(template.Resources as Record<string, any>)
      .filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.AEGIS_IAM_ROLE_MAP)
      .map((r) => r.Properties.Environment.Variables.AEGIS_IAM_ROLE_MAP);
    expect(roleMaps.length).toBeGreaterThan(0);
    expect(new Set(roleMaps)).toEqual(new Set([JSON.stringify(roleMap)]));
    // no console's nested stack: only the function alarms' one
    expect(
      Object.values(template.Resources as Record<string, any>)
        .filter((r) => r.Type === 'AWS::CloudFormation::Stack')
        .map((r) => r.Properties.TemplateURL),
    ).toEqual([expect.anything()]);
    expect(Object.keys(template.Resources).filter((id) => /Console/.test(id))).toEqual([]);
    expect(template.Outputs.ConsoleUrl).toBeUndefined();
    // no sentinelnetUrl context: every function decides with the bundled policies
    const sentinelnet = Object.values(template.Resources as Record<string, any>).filter(
      (r) => r.Properties?.Environment?.Variables?.SENTINELNET_URL !== undefined,
    );
    expect(sentinelnet).toEqual([]);
    // no replica* context: no replication, and the template says so
    const buckets = Object.values(template.Resources as Record<string, any>).filter((r) => r.Type === 'AWS::S3::Bucket');
    expect(buckets.filter((b) => b.Properties.ReplicationConfiguration)).toEqual([]);
    expect(template.Outputs.CrossRegionReplication.Value).toBe('off');
    expect(template.Description).toBe('Aegis model registry (staging; no cross-region bucket replication)');
    // no mTLS context: no custom domain, the execute-api endpoint serves the API, and the template says so
    const resources = Object.values(template.Resources as Record<string, any>);
    expect(resources.filter((r) => r.Type === 'AWS::ApiGateway::DomainName' || r.Type === 'AWS::ApiGateway::BasePathMapping')).toEqual([]);
    expect(resources.filter((r) => r.Type === 'AWS::ApiGateway::RestApi').map((r) => r.Properties.DisableExecuteApiEndpoint)).toEqual([
      undefined,
    ]);
    expect(resources.filter((r) => r.Properties?.Environment?.Variables?.REQUIRE_MTLS !== undefined)).toEqual([]);
    expect(template.Outputs.MutualTls.Value).toBe('off');
  });

  it('puts the API behind a custom domain with mutual TLS from the domainName, certificateArn and mtls* context, with cdk-nag passing', () => {
    const outdir = newOutdir();
    const run = runApp(MTLS_CONTEXT, outdir);
    expect({ status: run.status, stderr: run.stderr.replace(/^npm warn .*\n/gm, '') }).toEqual({
      status: 0,
      stderr: expect.not.stringMatching(/Error/),
    });
    const template = JSON.parse(readFileSync(join(outdir, 'aegis-dev.template.json'), 'utf8'));
    const ofType = (type: string) => Object.entries(template.Resources as Record<string, any>).filter(([, r]) => r.Type === type);
    const domains = ofType('AWS::ApiGateway::DomainName');
    expect(domains.map(([, d]) => d.Properties)).toEqual([
      {
        DomainName: MTLS.domainName,
        RegionalCertificateArn: MTLS.certificateArn,
        EndpointConfiguration: { Types: ['REGIONAL'] },
        SecurityPolicy: 'TLS_1_2',
        // every resource of the stack carries its environment
        Tags: [{ Key: 'aegis:env', Value: 'dev' }],
        MutualTlsAuthentication: { TruststoreUri: MTLS.truststoreUri, TruststoreVersion: MTLS.truststoreVersion },
      },
    ]);
    const [api] = ofType('AWS::ApiGateway::RestApi');
    expect(api![1].Properties.DisableExecuteApiEndpoint).toBe(true);
    expect(ofType('AWS::ApiGateway::BasePathMapping').map(([, m]) => m.Properties)).toEqual([
      {
        DomainName: { Ref: domains[0]![0] },
        RestApiId: { Ref: api![0] },
        Stage: { Ref: expect.stringMatching(/^ApiRestApiDeploymentStageapi/) },
      },
    ]);
    const withEnvironment = ofType('AWS::Lambda::Function').filter(
      ([, f]) => f.Properties.Environment?.Variables?.AEGIS_IAM_ROLE_MAP !== undefined,
    );
    expect(withEnvironment.length).toBeGreaterThan(0);
    expect(new Set(withEnvironment.map(([, f]) => f.Properties.Environment.Variables.REQUIRE_MTLS))).toEqual(new Set(['true']));
    expect(template.Outputs.MutualTls.Value).toBe('on');
    expect(template.Outputs.ApiRegionalDomainName.Value).toEqual({ 'Fn::GetAtt': [domains[0]![0], 'RegionalDomainName'] });
    expect(template.Outputs.ApiUrl.Value).toBe(`https://${MTLS.domainName}/`);
  });

  it('refuses mutual TLS context that names only some of the three required keys', () => {
    const run = runApp({ domainName: MTLS.domainName, mtlsTruststoreVersion: MTLS.truststoreVersion }, newOutdir());
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('mutual TLS needs context certificateArn, mtlsTruststoreUri as well');
  });

  it('refuses a truststore that is not an S3 object URI', () => {
    const run = runApp({ ...MTLS_CONTEXT, mtlsTruststoreUri: 'aegis-truststore/ca.pem' }, newOutdir());
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('mTLS truststore aegis-truststore/ca.pem is not an S3 object URI (s3://bucket/key.pem)');
  });

  it('turns on cross-region replication of both data buckets from the replica* context', () => {
    const outdir = newOutdir();
    const run = runApp(
      {
        replicaRegion: REPLICA.region,
        replicaArtifactBucketArn: REPLICA.artifactBucketArn,
        replicaAuditBucketArn: REPLICA.auditArchiveBucketArn,
        replicaKmsKeyArn: REPLICA.kmsKeyArn,
      },
      outdir,
    );
    expect({ status: run.status, stderr: run.stderr.replace(/^npm warn .*\n/gm, '') }).toEqual({
      status: 0,
      stderr: expect.not.stringMatching(/Error/),
    });
    const template = JSON.parse(readFileSync(join(outdir, 'aegis-dev.template.json'), 'utf8'));
    const destinations = (id: string) => template.Resources[id].Properties.ReplicationConfiguration.Rules.map((r: any) => r.Destination);
    expect(destinations('ArtifactBucket')).toEqual([
      { Bucket: REPLICA.artifactBucketArn, EncryptionConfiguration: { ReplicaKmsKeyID: REPLICA.kmsKeyArn } },
    ]);
    expect(destinations('AuditArchiveBucket')).toEqual([
      { Bucket: REPLICA.auditArchiveBucketArn, EncryptionConfiguration: { ReplicaKmsKeyID: REPLICA.kmsKeyArn } },
    ]);
    expect(template.Description).toBe(`Aegis model registry (dev; buckets replicated to ${REPLICA.region})`);
  });

  it('sets SENTINELNET_URL on the policy-deciding functions from -c sentinelnetUrl, and on none without it', () => {
    const url = 'https://sentinelnet.internal.example';
    const withUrl = (context: Record<string, unknown>) => {
      const outdir = newOutdir();
      const run = runApp(context, outdir);
      expect({ status: run.status, stderr: run.stderr.replace(/^npm warn .*\n/gm, '') }).toEqual({
        status: 0,
        stderr: expect.not.stringMatching(/Error/),
      });
      const template = JSON.parse(readFileSync(join(outdir, 'aegis-dev.template.json'), 'utf8'));
      return Object.values(template.Resources as Record<string, any>)
        .filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.SENTINELNET_URL === url)
        .map((r) => String(r.Properties.Description))
        .sort();
    };
    // the functions serving the six policy-deciding routes: five share `promotions`
    expect(withUrl({ sentinelnetUrl: url })).toEqual([
      'API function promotions: promote, promoteVersion, rollback, quarantine, quarantineApprove',
      `POST ${ROUTES.quarantineRelease.path}: ${ROUTES.quarantineRelease.summary}`,
    ]);
  });

  it('refuses replica* context that names only some of the four keys', () => {
    const run = runApp({ replicaRegion: REPLICA.region, replicaArtifactBucketArn: REPLICA.artifactBucketArn }, newOutdir());
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('cross-region replication needs context replicaAuditBucketArn, replicaKmsKeyArn as well');
  });

  it('takes account, region, role map, alarm email, API throttles, the serving function, tags, download URL lifetime, schedules and termination protection from the per-environment file', () => {
    const dir = newOutdir();
    const file = join(dir, 'environments.json');
    writeFileSync(
      file,
      JSON.stringify({
        environments: {
          prod: {
            account: '123456789012',
            region: 'eu-west-1',
            roleMap: { 'arn:aws:iam::123456789012:role/ci': 'publisher' },
            alarmEmail: 'oncall@example.com',
            throttling: {
              stage: { rateLimit: 120, burstLimit: 240 },
              public: { rateLimit: 3, burstLimit: 6 },
              serving: { rateLimit: 300, burstLimit: 600 },
            },
            serving: {
              memoryMb: 2048,
              reservedConcurrency: 10,
              alarmLatencyP99Ms: 300,
              alarmCanaryErrorRate: 0.1,
              alarmIngestLagMinutes: 5,
            },
            tags: { team: 'ml-platform' },
            downloadUrlTtlSeconds: 120,
            servingRetentionDays: 30,
            servingSegmentSeconds: 2,
            schedules: { auditArchiveMinutes: 10, servingRetentionMinutes: 30, pendingPromotionExpiryMinutes: 60 },
          },
        },
      }),
    );
    // the AZ lookup an account-pinned stack needs, as the committed cdk.context.json holds it
    const lookups = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.context.json'), 'utf8'));
    const run = runApp({ env: 'prod', environmentsFile: file, ...lookups }, join(dir, 'out'));
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.status).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, 'out', 'manifest.json'), 'utf8'));
    expect(manifest.artifacts['aegis-prod']).toMatchObject({
      environment: 'aws://123456789012/eu-west-1',
      properties: { terminationProtection: true },
    });
    const template = JSON.parse(readFileSync(join(dir, 'out', 'aegis-prod.template.json'), 'utf8'));
    const resources = Object.values(template.Resources) as { Type: string; Properties: Record<string, any> }[];
    const fn = (Object.entries(template.Resources) as [string, (typeof resources)[number]][]).find(
      ([id, r]) => id.startsWith('Functionsreads') && r.Type === 'AWS::Lambda::Function',
    )![1];
    expect(fn.Properties.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'aegis:env', Value: 'prod' },
        { Key: 'team', Value: 'ml-platform' },
      ]),
    );
    expect(fn.Properties.Environment.Variables.AEGIS_DOWNLOAD_URL_TTL_SECONDS).toBe('120');
    expect(fn.Properties.Environment.Variables.AEGIS_SERVING_RETENTION_DAYS).toBe('30');
    expect(fn.Properties.Environment.Variables.AEGIS_SERVING_SEGMENT_SECONDS).toBe('2');
    expect(template.Resources.DriftBucket.Properties.LifecycleConfiguration.Rules[0]).toMatchObject({
      Prefix: 'serving-inputs/',
      ExpirationInDays: 30,
    });
    // the file's entries, then the web console's group roles (on by default)
    expect(templateText(fn.Properties.Environment.Variables.AEGIS_IAM_ROLE_MAP)).toMatch(
      /^\{"arn:aws:iam::123456789012:role\/ci":"publisher","<GetAtt Console/,
    );
    expect(template.Outputs.ConsoleUrl).toBeDefined();
    expect(resources.find((r) => r.Type === 'AWS::SNS::Subscription')!.Properties).toMatchObject({ Endpoint: 'oncall@example.com' });
    const throttles = resources.find((r) => r.Type === 'AWS::ApiGateway::Stage')!.Properties.MethodSettings;
    expect(throttles).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ResourcePath: '/*', ThrottlingRateLimit: 120, ThrottlingBurstLimit: 240 }),
        expect.objectContaining({ ResourcePath: '/~1healthz', ThrottlingRateLimit: 3, ThrottlingBurstLimit: 6 }),
        expect.objectContaining({
          ResourcePath: '/~1v1~1serving~1{model}~1{env}~1predict',
          ThrottlingRateLimit: 300,
          ThrottlingBurstLimit: 600,
        }),
      ]),
    );
    const serving = (Object.entries(template.Resources) as [string, (typeof resources)[number]][]).find(
      ([id, r]) => id.startsWith('FunctionsservingPredict') && r.Type === 'AWS::Lambda::Function',
    )![1];
    expect(serving.Properties).toMatchObject({ MemorySize: 2048, ReservedConcurrentExecutions: 10 });
    // the serving alarms' thresholds (ServingMonitoring)
    const alarmOn = (metric: string) =>
      resources.filter(
        (r) =>
          r.Type === 'AWS::CloudWatch::Alarm' &&
          (r.Properties.Metrics ?? []).some((m: Record<string, any>) => m.MetricStat?.Metric?.MetricName === metric),
      );
    expect(alarmOn('LatencyMs').map((a) => a.Properties.Threshold)).toEqual([300, 300]);
    expect(alarmOn('Errors').find((a) => JSON.stringify(a.Properties).includes('Aegis/Serving'))!.Properties.Threshold).toBe(0.1);
    expect(
      resources.find((r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.MetricName === 'IngestLagSeconds')!.Properties.Threshold,
    ).toBe(300);
    const azs = resources.filter((r) => r.Type === 'AWS::EC2::Subnet').map((r) => r.Properties.AvailabilityZone);
    expect(azs).toEqual(['eu-west-1a', 'eu-west-1b']);
    // the schedules given, and the defaults of the others (checkpoint every minute, upload expiry hourly)
    const rateOf = (job: string) =>
      (Object.entries(template.Resources) as [string, (typeof resources)[number]][]).find(
        ([id, r]) => r.Type === 'AWS::Events::Rule' && id.startsWith(job),
      )![1].Properties.ScheduleExpression;
    expect(
      ['AuditArchiveSchedule', 'ServingRetention', 'PendingPromotionExpiry', 'AuditCheckpoint', 'PendingUploadExpiry'].map(rateOf),
    ).toEqual(['rate(10 minutes)', 'rate(30 minutes)', 'rate(1 hour)', 'rate(1 minute)', 'rate(1 hour)']);
  });

  it('refuses a per-environment file with a bad field, naming the file and the field', () => {
    const dir = newOutdir();
    const write = (content: unknown) => {
      const file = join(dir, `environments-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
      return file;
    };
    const bad = (content: unknown) => () => loadEnvironments(write(content));
    expect(bad({ environments: { prod: { alarmEmail: 'nobody' } } })).toThrow(
      /environments-\w+\.json: environments\.prod\.alarmEmail: not an email address$/,
    );
    expect(bad({ environments: { prod: { acount: '123456789012' } } })).toThrow(/: environments\.prod: unknown field acount$/);
    expect(bad({ environments: { prod: { account: '12345', region: 'eu-west-1' } } })).toThrow(
      /: environments\.prod\.account: not a 12-digit AWS account id$/,
    );
    expect(bad({ environments: { prod: { account: '123456789012' } } })).toThrow(/: environments\.prod: account and region go together/);
    expect(bad({ environments: { prod: { roleMap: { 'arn:aws:iam::1:role/x': 'superuser' } } } })).toThrow(
      /: environments\.prod\.roleMap\.arn:aws:iam::1:role\/x: /,
    );
    expect(bad({ environments: { prod: { serving: { memoryMb: 20000 } } } })).toThrow(
      /: environments\.prod\.serving\.memoryMb: must be at most 10240 MB \(Lambda's maximum\)$/,
    );
    expect(bad({ environments: { prod: { serving: { gpu: true } } } })).toThrow(/: environments\.prod\.serving: unknown field gpu$/);
    expect(bad({ environments: { prod: { serving: { alarmIngestLagMinutes: 0 } } } })).toThrow(
      /: environments\.prod\.serving\.alarmIngestLagMinutes: must be at least 1 minute$/,
    );
    expect(bad({ environments: { prod: { schedules: { auditArchiveMinutes: 0 } } } })).toThrow(
      /: environments\.prod\.schedules\.auditArchiveMinutes: must be at least 1 minute$/,
    );
    expect(bad({ environments: { prod: { schedules: { auditCheckpointMinutes: 1.5 } } } })).toThrow(
      /: environments\.prod\.schedules\.auditCheckpointMinutes: must be a whole number of minutes$/,
    );
    expect(bad({ environments: { prod: { schedules: { nightly: 5 } } } })).toThrow(
      /: environments\.prod\.schedules: unknown field nightly$/,
    );
    expect(bad({ environments: { prod: { serving: { reservedConcurrency: 4, provisionedConcurrency: 5 } } } })).toThrow(
      /: environments\.prod\.serving\.provisionedConcurrency: must not exceed reservedConcurrency$/,
    );
    expect(bad({ environments: { prod: { serving: { alarmCanaryErrorRate: 5 } } } })).toThrow(
      /: environments\.prod\.serving\.alarmCanaryErrorRate: must be less than 1$/,
    );
    expect(bad({ environments: { prod: { serving: { alarmLatencyP99Ms: 0 } } } })).toThrow(
      /: environments\.prod\.serving\.alarmLatencyP99Ms: must be more than 0 ms$/,
    );
    expect(bad({ environments: { prod: { throttling: { public: { rateLimit: 0, burstLimit: 1 } } } } })).toThrow(
      /: environments\.prod\.throttling\.public\.rateLimit: must be more than 0 requests per second$/,
    );
    expect(bad({ environments: { prod: { throttling: { stage: { rateLimit: 10, burstLimit: 2.5 } } } } })).toThrow(
      /: environments\.prod\.throttling\.stage\.burstLimit: must be a whole number of requests$/,
    );
    // a scoped entry: { role, prefixes?, teams? }, checked field by field
    expect(
      loadEnvironments(write({ environments: { prod: { roleMap: { 'arn:aws:iam::1:role/f': { role: 'publisher', teams: ['fraud'] } } } } }))
        .prod!.roleMap,
    ).toEqual({
      'arn:aws:iam::1:role/f': { role: 'publisher', teams: ['fraud'] },
    });
    expect(bad({ environments: { prod: { roleMap: { 'arn:aws:iam::1:role/f': { role: 'publisher' } } } } })).toThrow(
      /: environments\.prod\.roleMap\.arn:aws:iam::1:role\/f: a scoped entry names at least one prefix or team \(a role name alone is global\)$/,
    );
    expect(bad({ environments: { prod: { roleMap: { 'arn:aws:iam::1:role/f': { role: 'publisher', prefixes: ['UP'] } } } } })).toThrow(
      /: environments\.prod\.roleMap\.arn:aws:iam::1:role\/f: prefixes\.0: must be the start of a model name/,
    );
    expect(bad({ environments: { prod: { downloadUrlTtlSeconds: 7200 } } })).toThrow(/: environments\.prod\.downloadUrlTtlSeconds: /);
    // longer than the functions' drift settle time (120 s): no function would start
    expect(bad({ environments: { prod: { servingSegmentSeconds: 121 } } })).toThrow(/: environments\.prod\.servingSegmentSeconds: /);
    expect(bad({ environments: { prod: { servingRetentionDays: 0 } } })).toThrow(
      /: environments\.prod\.servingRetentionDays: must be at least 1 day$/,
    );
    expect(bad({ environments: { prod: { servingRetentionDays: 1.5 } } })).toThrow(
      /: environments\.prod\.servingRetentionDays: must be a whole number of days$/,
    );
    expect(bad({ environments: { Prod: {} } })).toThrow(/: environments\.Prod: environment names are 1-20/);
    expect(bad({ environments: { 'my-aws-dev': {} } })).toThrow(
      /: environments\.my-aws-dev: environment names may not contain aws, amazon or cognito/,
    );
    expect(bad('{ not json')).toThrow(/: not JSON/);
    expect(() => loadEnvironments(join(dir, 'missing.json'))).toThrow(/missing\.json: not found$/);
    const run = runApp(
      { env: 'prod', environmentsFile: write({ environments: { prod: { alarmEmail: 'nobody' } } }) },
      join(dir, 'out-bad'),
    );
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/environments\.prod\.alarmEmail: not an email address/);
  });

  it('reads the committed environments.json: every entry is valid', () => {
    const envs = loadEnvironments(join(REPO_ROOT, 'environments.json'));
    expect(Object.keys(envs)).toEqual(expect.arrayContaining(['dev', 'prod']));
    expect(envs.prod).toMatchObject({ terminationProtection: true, region: expect.any(String) });
  });

  it('refuses a role map in context that is not JSON', () => {
    const run = runApp({ roleMap: '{not json' }, newOutdir());
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('context roleMap is not JSON');
  });
});
