import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ROLES } from '../../lib/kernel/identity.js';
import { apiPathMethods, CONSOLE_REQUEST_HEADERS } from '../../lib/infra/console-cors.js';
import { CONSOLE_DIST, type ConsoleHosting } from '../../lib/infra/console-hosting.js';
import { logicalIdOf } from '../../lib/infra/pin.js';
import { MTLS, stubProjectRoot, synthAegis, templateText, type Synthesized } from './support.js';

type Json = Record<string, any>;

const text = templateText;

describe('the web console on AWS (ConsoleHosting)', () => {
  let stub: ReturnType<typeof stubProjectRoot>;
  let synth: Synthesized;
  let hosting: ConsoleHosting;
  let nested: Template;
  let resources: Json;
  const ofType = (type: string): [string, Json][] => Object.entries(resources).filter(([, r]) => r.Type === type);
  const idOf = (c: Parameters<typeof logicalIdOf>[0]) => logicalIdOf(c);

  beforeAll(() => {
    stub = stubProjectRoot();
    // a built console, as npm run build leaves it
    mkdirSync(join(stub.root, CONSOLE_DIST, 'assets'), { recursive: true });
    writeFileSync(join(stub.root, CONSOLE_DIST, 'index.html'), '<!doctype html><script type="module" src="/assets/app-1a2b.js"></script>');
    writeFileSync(join(stub.root, CONSOLE_DIST, 'assets', 'app-1a2b.js'), 'console.log(1)');
    synth = synthAegis({ projectRoot: stub.root });
    hosting = synth.stack.console!;
    nested = Template.fromStack(hosting);
    resources = nested.toJSON().Resources;
  });
  afterAll(() => stub.cleanup());

  it('keeps the console in a nested stack: the parent grows by that one resource', () => {
    const off = synthAegis({ projectRoot: stub.root, props: { console: false } });
    expect(off.stack.console).toBeUndefined();
    const count = (t: Template) => Object.keys(t.toJSON().Resources).length;
    expect(count(synth.template)).toBe(count(off.template) + 1);
    // beside the function alarms' nested stack, which both have
    synth.template.resourceCountIs('AWS::CloudFormation::Stack', 2);
    off.template.resourceCountIs('AWS::CloudFormation::Stack', 1);
    expect(Object.keys(off.template.toJSON().Outputs)).not.toContain('ConsoleUrl');
  });

  it('keeps the bucket private, versioned, encrypted, TLS-only and logged', () => {
    const bucket = resources[idOf(hosting.bucket)];
    expect(bucket.Properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LoggingConfiguration: { DestinationBucketName: { Ref: idOf(hosting.logBucket) } },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    expect(bucket.Properties.WebsiteConfiguration).toBeUndefined();
  });

  it('lets only this distribution read the bucket (origin access control with its SourceArn), over TLS', () => {
    const [, policy] = ofType('AWS::S3::BucketPolicy').find(([, p]) => p.Properties.Bucket.Ref === idOf(hosting.bucket))!;
    const statements = policy.Properties.PolicyDocument.Statement as Json[];
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({ Action: 's3:GetObject', Principal: { Service: 'cloudfront.amazonaws.com' } });
    expect(text(allows[0]!.Condition.StringEquals['AWS:SourceArn'])).toBe(
      `arn:<Ref AWS::Partition>:cloudfront::<Ref AWS::AccountId>:distribution/<Ref ${idOf(hosting.distribution)}>`,
    );
    expect(statements.find((s) => s.Effect === 'Deny')).toMatchObject({ Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    // OAC, not the legacy origin access identity
    const [[oacId, oac]] = ofType('AWS::CloudFront::OriginAccessControl') as [[string, Json]];
    expect(oac.Properties.OriginAccessControlConfig).toMatchObject({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always' });
    expect(ofType('AWS::CloudFront::CloudFrontOriginAccessIdentity')).toEqual([]);
    const config = resources[idOf(hosting.distribution)].Properties.DistributionConfig;
    expect(config.Origins[0].OriginAccessControlId).toEqual({ 'Fn::GetAtt': [oacId, 'Id'] });
  });

  it('serves HTTPS only, index.html at the root and for every unknown path (SPA), with the security headers', () => {
    const config = resources[idOf(hosting.distribution)].Properties.DistributionConfig;
    expect(config.DefaultRootObject).toBe('index.html');
    expect(config.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('https-only');
    expect(config.DefaultCacheBehavior.ResponseHeadersPolicyId).toEqual({ Ref: idOf(hosting.headersPolicy) });
    expect(config.CustomErrorResponses).toEqual([
      { ErrorCode: 403, ResponseCode: 200, ResponsePagePath: '/index.html', ErrorCachingMinTTL: 0 },
      { ErrorCode: 404, ResponseCode: 200, ResponsePagePath: '/index.html', ErrorCachingMinTTL: 0 },
    ]);
    const headers = resources[idOf(hosting.headersPolicy)].Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    expect(headers).toMatchObject({
      StrictTransportSecurity: { AccessControlMaxAgeSec: 63072000, IncludeSubdomains: true, Override: true },
      ContentTypeOptions: { Override: true },
      FrameOptions: { FrameOption: 'DENY', Override: true },
      ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
    });
    const region = '<Ref AWS::Region>';
    expect(text(headers.ContentSecurityPolicy.ContentSecurityPolicy).split('; ')).toEqual([
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      `connect-src 'self' https://<Ref RestApiId>.execute-api.${region}.<Ref AWS::URLSuffix> https://cognito-identity.${region}.amazonaws.com https://aegis-test-<Ref AWS::AccountId>.auth.${region}.amazoncognito.com`,
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "object-src 'none'",
      "form-action 'self'",
    ]);
    // no 'unsafe-inline', no 'unsafe-eval', no other host
    expect(text(headers.ContentSecurityPolicy.ContentSecurityPolicy)).not.toMatch(/unsafe|\*/);
  });

  it('signs users in with a user pool of no self sign-up, a strong password policy, required MFA and threat protection', () => {
    nested.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      UserPoolTier: 'PLUS',
      Policies: {
        PasswordPolicy: { MinimumLength: 14, RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true },
      },
    });
    const [[, client]] = ofType('AWS::Cognito::UserPoolClient') as [[string, Json]];
    expect(client.Properties).toMatchObject({ AllowedOAuthFlows: ['code'], AllowedOAuthFlowsUserPoolClient: true, GenerateSecret: false });
    const origin = `https://<GetAtt ${idOf(hosting.distribution)}.DomainName>/`;
    expect(client.Properties.CallbackURLs.map(text)).toEqual([origin]);
    expect(client.Properties.LogoutURLs.map(text)).toEqual([origin]);
    expect(ofType('AWS::Cognito::UserPoolDomain')).toHaveLength(1);
  });

  it('has one group per Aegis role, each handing out its own IAM role', () => {
    const groups = ofType('AWS::Cognito::UserPoolGroup').map(([, g]) => g.Properties);
    expect(groups.map((g) => g.GroupName).sort()).toEqual([...ROLES].sort());
    for (const role of ROLES) {
      const group = groups.find((g) => g.GroupName === role)!;
      expect(group.RoleArn).toEqual({ 'Fn::GetAtt': [idOf(hosting.identity.groupRoles[role]), 'Arn'] });
    }
    expect(new Set(groups.map((g) => g.Precedence)).size).toBe(ROLES.length);
  });

  it('gives credentials to authenticated users only, by the role in their token, and none to a user in no group', () => {
    nested.hasResourceProperties('AWS::Cognito::IdentityPool', { AllowUnauthenticatedIdentities: false });
    const [[, attachment]] = ofType('AWS::Cognito::IdentityPoolRoleAttachment') as [[string, Json]];
    expect(Object.values(attachment.Properties.RoleMappings)).toEqual([
      expect.objectContaining({ Type: 'Token', AmbiguousRoleResolution: 'Deny' }),
    ]);
    for (const role of ROLES) {
      const r = resources[idOf(hosting.identity.groupRoles[role])].Properties;
      expect(r.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRoleWithWebIdentity',
          Principal: { Federated: 'cognito-identity.amazonaws.com' },
          Condition: {
            StringEquals: { 'cognito-identity.amazonaws.com:aud': { Ref: idOf(hosting.identity.identityPool) } },
            'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' },
          },
        },
      ]);
    }
  });

  it("lets each group role invoke this API's stage and nothing else", () => {
    const roleIds = new Set(ROLES.map((role) => idOf(hosting.identity.groupRoles[role])));
    const policies = ofType('AWS::IAM::Policy').filter(([, p]) => (p.Properties.Roles as Json[]).some((r) => roleIds.has(r.Ref)));
    expect(policies).toHaveLength(ROLES.length);
    for (const [, p] of policies) {
      expect(p.Properties.PolicyDocument.Statement.map((s: Json) => ({ ...s, Resource: text(s.Resource) }))).toEqual([
        {
          Effect: 'Allow',
          Action: 'execute-api:Invoke',
          Resource: 'arn:<Ref AWS::Partition>:execute-api:<Ref AWS::Region>:<Ref AWS::AccountId>:<Ref RestApiId>/api/*',
        },
      ]);
    }
    // RestApiId is the parent's REST API
    const stack = synth.template.toJSON().Resources[synth.stack.resolve(hosting.nestedStackResource!.logicalId)] as Json;
    expect(stack.Properties.Parameters.RestApiId).toEqual({ Ref: idOf(synth.stack.restApi.api) });
  });

  it("maps each group role to its Aegis role in every function's AEGIS_IAM_ROLE_MAP, beside the configured entries", () => {
    const s = synthAegis({ projectRoot: stub.root, props: { iamRoleMap: { 'arn:aws:iam::123456789012:role/ci': 'publisher' } } });
    const nestedId = s.stack.resolve(s.stack.console!.nestedStackResource!.logicalId);
    const maps = Object.values(s.template.findResources('AWS::Lambda::Function'))
      .map((f) => f.Properties.Environment?.Variables?.AEGIS_IAM_ROLE_MAP)
      .filter(Boolean);
    expect(maps.length).toBeGreaterThan(20);
    const parsed = JSON.parse(text(maps[0]).replace(/<GetAtt [^>]+>/g, (m) => m.replace(/"/g, ''))) as Record<string, string>;
    expect(parsed['arn:aws:iam::123456789012:role/ci']).toBe('publisher');
    for (const role of ROLES) {
      // the group role's ARN, an output of the nested stack
      const keys = Object.keys(parsed).filter((k) => k.startsWith('<GetAtt') && parsed[k] === role);
      expect(keys).toEqual([expect.stringMatching(new RegExp(`^<GetAtt ${nestedId}\\.Outputs\\.\\w*GroupRole${role}[0-9A-F]{8}Arn>$`))]);
    }
    expect(Object.keys(parsed)).toHaveLength(ROLES.length + 1);
    expect(new Set(maps.map((m) => JSON.stringify(m))).size).toBe(1);
    const origins = Object.values(s.template.findResources('AWS::Lambda::Function'))
      .map((f) => f.Properties.Environment?.Variables?.AEGIS_CONSOLE_ORIGIN)
      .filter(Boolean);
    expect(origins).toHaveLength(maps.length);
    expect(text(origins[0])).toMatch(new RegExp(`^https://<GetAtt ${nestedId}\\.Outputs\\.\\w*Distribution[0-9A-F]{8}DomainName>$`));
  });

  it('answers the CORS preflight of every API path for the console origin only, without authorization', () => {
    const preflights = ofType('AWS::ApiGateway::Method');
    expect(preflights).toHaveLength(apiPathMethods().size);
    for (const [, m] of preflights) {
      expect(m.Properties).toMatchObject({ HttpMethod: 'OPTIONS', AuthorizationType: 'NONE', Integration: { Type: 'MOCK' } });
      const params = m.Properties.Integration.IntegrationResponses[0].ResponseParameters;
      expect(text(params['method.response.header.Access-Control-Allow-Origin'])).toBe(
        `'https://<GetAtt ${idOf(hosting.distribution)}.DomainName>'`,
      );
      expect(params['method.response.header.Access-Control-Allow-Headers']).toBe(`'${CONSOLE_REQUEST_HEADERS.join(',')}'`);
    }
    // a signed route's path: its own method and OPTIONS, nothing else
    const models = hosting.cors.preflights.get('/v1/registry/models')!;
    expect(models.integration).toBeDefined();
    const allowMethods = (
      resources[Stack.of(models).resolve(models.logicalId)].Properties.Integration.IntegrationResponses[0].ResponseParameters as Json
    )['method.response.header.Access-Control-Allow-Methods'];
    expect(allowMethods).toBe(`'${[...apiPathMethods().get('/v1/registry/models')!, 'OPTIONS'].join(',')}'`);
    // the parent API redeploys after the preflights exist; its own gateway errors carry the origin too
    const deployments = Object.values(synth.template.findResources('AWS::ApiGateway::Deployment'));
    expect(deployments[0]!.DependsOn).toContain(synth.stack.resolve(hosting.nestedStackResource!.logicalId));
    const responseIds = Object.keys(synth.template.findResources('AWS::ApiGateway::GatewayResponse'));
    expect(deployments[0]!.DependsOn).toEqual(expect.arrayContaining(responseIds));
    const responses = Object.values(synth.template.findResources('AWS::ApiGateway::GatewayResponse'));
    expect(responses.length).toBeGreaterThan(0);
    for (const r of responses)
      expect(text(r.Properties.ResponseParameters['gatewayresponse.header.Access-Control-Allow-Origin'])).toMatch(/^'https:\/\/<GetAtt /);
    nested.resourceCountIs('AWS::ApiGateway::GatewayResponse', 2);
  });

  it('deploys the build and a config.json naming the API and the Cognito pools', () => {
    expect(hosting.filesDeployed).toBe(true);
    const deployments = ofType('Custom::CDKBucketDeployment');
    expect(deployments).toHaveLength(2);
    const entry = deployments.find(([, d]) => JSON.stringify(d.Properties.Include ?? []).includes('config.json'))![1];
    expect(entry.Properties).toMatchObject({ Prune: false, SystemMetadata: { 'cache-control': 'no-cache' } });
    const config = Object.keys(hosting.configJson());
    expect(config).toEqual(['mode', 'apiUrl', 'region', 'userPoolId', 'userPoolClientId', 'identityPoolId', 'cognitoDomain']);
    expect(text(Stack.of(hosting).resolve(hosting.apiUrl))).toBe(
      'https://<Ref RestApiId>.execute-api.<Ref AWS::Region>.<Ref AWS::URLSuffix>/api/',
    );
    const outputs = synth.template.toJSON().Outputs as Json;
    for (const name of ['ConsoleUrl', 'ConsoleBucketName', 'UserPoolId', 'IdentityPoolId']) expect(outputs[name]).toBeDefined();
  });

  it('deploys only config.json when no build is found at synth time, and says so', () => {
    const bare = stubProjectRoot();
    try {
      const s = synthAegis({ projectRoot: bare.root });
      expect(s.stack.console!.filesDeployed).toBe(false);
      Template.fromStack(s.stack.console!).resourceCountIs('Custom::CDKBucketDeployment', 1);
      expect(s.template.toJSON().Outputs.ConsoleUrl.Description).toMatch(/npm run build/);
    } finally {
      bare.cleanup();
    }
  });

  it('is off by default with mutual TLS, and refused when asked for with it', () => {
    expect(synthAegis({ projectRoot: stub.root, props: { mutualTls: MTLS } }).stack.console).toBeUndefined();
    expect(() => synthAegis({ projectRoot: stub.root, props: { mutualTls: MTLS, console: true } })).toThrow(
      /console: the web console is not supported with mutualTls/,
    );
  });
});
