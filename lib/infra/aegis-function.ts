import { isAbsolute, join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from './acknowledge.js';

/**
 * Prepended to every bundle: an ESM bundle has no `require`, but CommonJS dependencies
 * bundled into it still call it (for node builtins). The alias keeps the import from
 * clashing with a bundled module's own `createRequire`.
 */
export const ESM_REQUIRE_BANNER = "import { createRequire as __aegisCreateRequire } from 'node:module'; const require = __aegisCreateRequire(import.meta.url);";

/** The newest Node.js runtime this aws-cdk-lib offers. */
export const NODE_RUNTIME = lambda.Runtime.NODEJS_24_X;

export interface AegisFunctionProps {
  /** Handler file relative to `projectRoot`, exporting `handler`. */
  readonly entry: string;
  /** Directory holding `package-lock.json` and the handler files. */
  readonly projectRoot: string;
  readonly description: string;
  /** @default - none besides NODE_OPTIONS */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default 1024 (also buys CPU: hashing and Ed25519 verification are CPU bound) */
  readonly memorySize?: number;
  /** @default Duration.seconds(29), API Gateway's integration timeout */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * One Lambda function the Aegis way: bundled by esbuild as minified ESM with source maps,
 * the AWS SDK bundled in (local-only drivers left out), ARM64, X-Ray tracing, JSON logs into its own log group
 * with retention, and a role that starts with nothing but writing to that log group (no AWS
 * managed policies).
 *
 * @example
 * const fn = new AegisFunction(this, 'register', { entry: 'lambdas/register.ts', projectRoot, description: 'Register an artifact' });
 * bucket.grantPut(fn.function);
 */
export class AegisFunction extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: AegisFunctionProps) {
    super(scope, id);
    if (!isAbsolute(props.projectRoot)) throw new Error('projectRoot must be an absolute path');
    if (isAbsolute(props.entry)) throw new Error('entry must be relative to projectRoot');

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Aegis ${id}: ${props.description}`.slice(0, 1000),
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroup.logGroupArn] }),
    );

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: join(props.projectRoot, props.entry),
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: join(props.projectRoot, 'package-lock.json'),
      runtime: NODE_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      description: props.description.slice(0, 256),
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout ?? Duration.seconds(29),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        banner: ESM_REQUIRE_BANNER,
        // Prefer packages' ESM builds in an ESM bundle.
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        // Bundle the AWS SDK with the code (the runtime's copy may lack lib-storage or lag
        // our versions). The local-only database drivers are left out: composition.ts loads
        // them lazily and a Lambda never takes that path.
        externalModules: ['@electric-sql/pglite', 'pg', 'pg-native'],
      },
    });

    acknowledge(this.role, {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Active X-Ray tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions.',
    });
  }
}
