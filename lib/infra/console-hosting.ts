import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  Aws,
  CfnParameter,
  Duration,
  Fn,
  NestedStack,
  RemovalPolicy,
  type NestedStackProps,
  DefaultStackSynthesizer,
  Stack,
  Token,
} from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import type { Construct } from 'constructs';
import type { RoleMapEntry } from '../kernel/identity.js';
import { acknowledge } from './acknowledge.js';
import { ConsoleCors } from './console-cors.js';
import { ConsoleIdentity, cognitoDomainPrefix, cognitoDomainUrl } from './console-identity.js';

/** Where `npm run build` writes the console (index.html + assets/*), under the project root. */
export const CONSOLE_DIST = 'dist/console';

export interface ConsoleHostingProps extends NestedStackProps {
  readonly envName: string;
  /** The console files are taken from `<projectRoot>/dist/console` when that folder exists at synth time. */
  readonly projectRoot: string;
  /** The REST API the console calls (SigV4, CORS). */
  readonly api: apigw.IRestApi;
  /** The API's stage name, as a literal (the stage's own token would tie this stack to the API's deployment). */
  readonly stageName: string;
}

/** The Content-Security-Policy of the console: its own files only, and connections to the API and Cognito. */
export function consoleCsp(apiOrigin: string, cognitoDomainUrl: string, region: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    // the hosted sign-in page's token endpoint (PKCE code exchange) is on the Cognito domain
    `connect-src 'self' ${apiOrigin} https://cognito-identity.${region}.amazonaws.com ${cognitoDomainUrl}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
    "form-action 'self'",
  ].join('; ');
}

/**
 * The web console on AWS, in a nested stack of its own (the parent stack stays far from
 * CloudFormation's 500 resources): the built files in a private, versioned, encrypted S3
 * bucket that only this CloudFront distribution reads (origin access control), served over
 * HTTPS with strict security headers and a single-page-app fallback; `config.json` beside
 * them tells the browser where the API and Cognito are; the Cognito pools of
 * {@link ConsoleIdentity}; and CORS on the API for the console's origin ({@link ConsoleCors}).
 */
export class ConsoleHosting extends NestedStack {
  public readonly bucket: s3.Bucket;
  public readonly logBucket: s3.Bucket;
  public readonly distribution: cloudfront.Distribution;
  public readonly headersPolicy: cloudfront.ResponseHeadersPolicy;
  public readonly identity: ConsoleIdentity;
  public readonly cors: ConsoleCors;
  /** `https://<distribution domain>`: the console's URL and the API's one allowed browser origin. */
  public readonly origin: string;
  /** The API's base URL as the browser calls it (`https://<id>.execute-api.<region>.<suffix>/<stage>/`). */
  public readonly apiUrl: string;
  /** Whether the built console was found at synth time (otherwise only `config.json` is deployed). */
  public readonly filesDeployed: boolean;

  constructor(scope: Construct, id: string, props: ConsoleHostingProps) {
    super(scope, id, { ...props, parameters: { ...props.parameters, RestApiId: props.api.restApiId } });
    const restApiId = new CfnParameter(this, 'RestApiId', { type: 'String', description: 'The REST API the console calls' }).valueAsString;
    const apiOrigin = Fn.join('', ['https://', restApiId, '.execute-api.', Aws.REGION, '.', Aws.URL_SUFFIX]);
    this.apiUrl = Fn.join('', [apiOrigin, `/${props.stageName}/`]);

    this.logBucket = new s3.Bucket(this, 'LogBucket', {
      versioned: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      // CloudFront's standard logs are delivered with an ACL: the bucket owner takes the objects over.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      versioned: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: s3.BucketEncryption.S3_MANAGED,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 's3/',
      lifecycleRules: [{ id: 'expire-old-console-files', noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const domainPrefix = cognitoDomainPrefix(props.envName);
    this.headersPolicy = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'Aegis console: strict security headers',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: consoleCsp(apiOrigin, cognitoDomainUrl(domainPrefix), Aws.REGION), override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(730), includeSubdomains: true, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `Aegis console (${props.envName})`,
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.headersPolicy,
        compress: true,
      },
      // The console routes in the browser: an unknown key (403 without s3:ListBucket) is the app's index.
      errorResponses: [403, 404].map((httpStatus) => ({
        httpStatus,
        responseHttpStatus: 200,
        responsePagePath: '/index.html',
        ttl: Duration.seconds(0),
      })),
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: 'cloudfront/',
    });
    acknowledge(
      this.distribution,
      {
        id: 'AwsSolutions-CFR1',
        reason: 'The console is static files for signed-in staff wherever they work; Cognito and IAM guard the data, not geography.',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'The distribution serves static files only; the API it calls is IAM-authorized and throttled, and a WAF web ACL can be attached per environment.',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'The distribution uses its default *.cloudfront.net certificate (no custom domain); CloudFront negotiates TLS 1.2 or later with current browsers, and HSTS keeps them on HTTPS.',
      },
    );
    this.origin = Fn.join('', ['https://', this.distribution.distributionDomainName]);
    this.identity = new ConsoleIdentity(this, 'Identity', {
      domainPrefix,
      consoleOrigin: this.origin,
      restApiId,
      stageName: props.stageName,
    });
    this.cors = new ConsoleCors(this, 'Cors', { api: props.api, origin: this.origin });

    const dist = join(props.projectRoot, CONSOLE_DIST);
    this.filesDeployed = existsSync(join(dist, 'index.html'));
    this.deployFiles(dist);
  }

  /** Aegis role map entries of the group roles: role ARN (a token) → the group's Aegis role. */
  roleMapEntries(): Record<string, RoleMapEntry> {
    return Object.fromEntries(Object.entries(this.identity.groupRoles).map(([role, r]) => [r.roleArn, role as RoleMapEntry]));
  }

  /** What the browser reads first: where the API and Cognito are. */
  configJson(): Record<string, string> {
    return {
      mode: 'aws',
      apiUrl: this.apiUrl,
      region: Aws.REGION,
      userPoolId: this.identity.userPool.userPoolId,
      userPoolClientId: this.identity.client.userPoolClientId,
      identityPoolId: this.identity.identityPool.identityPoolId,
      cognitoDomain: this.identity.domainUrl,
    };
  }

  /**
   * The built files (hashed `assets/*` cached for a year; old ones kept, so a tab opened
   * before a deploy still loads its chunks) and `index.html` with `config.json`, which
   * browsers and CloudFront revalidate on every load.
   */
  private deployFiles(dist: string): void {
    const entry = [s3deploy.Source.jsonData('config.json', this.configJson())];
    if (this.filesDeployed) {
      const files = s3deploy.Source.asset(dist);
      new s3deploy.BucketDeployment(this, 'DeployAssets', {
        sources: [files],
        destinationBucket: this.bucket,
        exclude: ['index.html', 'config.json'],
        prune: false,
        cacheControl: [s3deploy.CacheControl.fromString('public, max-age=31536000, immutable')],
      });
      entry.push(files);
    }
    const entryDeployment = new s3deploy.BucketDeployment(this, 'DeployEntry', {
      sources: entry,
      destinationBucket: this.bucket,
      exclude: ['*'],
      include: ['index.html', 'config.json'],
      prune: false,
      cacheControl: [s3deploy.CacheControl.noCache()],
    });
    acknowledgeDeploymentFunction(entryDeployment, 'DeployEntry');
  }
}

/** The CDK asset bucket's objects as cdk-nag prints them: pseudo parameters where the stack is environment-agnostic. */
function assetObjectsFinding(stack: Stack): string {
  const known = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<${pseudo}>` : value);
  const [partition, account, region] = [
    known(stack.partition, 'AWS::Partition'),
    known(stack.account, 'AWS::AccountId'),
    known(stack.region, 'AWS::Region'),
  ];
  return `arn:${partition}:s3:::cdk-${DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-${account}-${region}/*`;
}

/** The findings on the one function every BucketDeployment of a stack shares (CDK's own singleton). */
function acknowledgeDeploymentFunction(deployment: s3deploy.BucketDeployment, id: string): void {
  const fn = deployment.node.scope!.node.children.find((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
  if (!fn) throw new Error(`${id}: no BucketDeployment function found`);
  const reason = (what: string) => `CDK's BucketDeployment function (it copies the console build into its bucket) ${what}.`;
  acknowledge(
    fn,
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: reason('logs with the AWS managed basic execution policy'),
    },
    ...['Action::s3:GetBucket*', 'Action::s3:GetObject*', 'Action::s3:List*', 'Action::s3:Abort*', 'Action::s3:DeleteObject*'].map((f) => ({
      id: `AwsSolutions-IAM5[${f}]`,
      reason: reason('reads the CDK asset and writes the console bucket through the grants CDK generates'),
    })),
    {
      id: `AwsSolutions-IAM5[Resource::${assetObjectsFinding(Stack.of(deployment))}]`,
      reason: reason('reads the uploaded build from the CDK asset bucket'),
    },
    {
      id: 'AwsSolutions-IAM5[Resource::<Bucket83908E77.Arn>/*]',
      reason: reason('writes any key of the console bucket: the build names its files'),
    },
    { id: 'AwsSolutions-L1', reason: reason('runs on the Python runtime CDK pins for it; it runs only during deploys') },
  );
}
