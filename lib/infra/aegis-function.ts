import { existsSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from './acknowledge.js';
import { bundledCode, NODE_RUNTIME, type BundledPackage } from './lambda-bundle.js';

/** Where Lambda unpacks a function's bundle: a folder copied into the bundle as `x` is at `${LAMBDA_TASK_ROOT}/x`. */
export const LAMBDA_TASK_ROOT = '/var/task';

export interface AegisFunctionProps {
  /** Handler file relative to `projectRoot`, exporting {@link AegisFunctionProps.handler}. */
  readonly entry: string;
  /**
   * The export of `entry` Lambda calls (the bundle's `index.<handler>`).
   *
   * @default 'handler'
   */
  readonly handler?: string;
  /** The project: the handler files, the folders and files shipped beside them, and `node_modules`. */
  readonly projectRoot: string;
  readonly description: string;
  /** @default - none */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default 1024 (also buys CPU: hashing and Ed25519 verification are CPU bound) */
  readonly memorySize?: number;
  /** @default Duration.seconds(29), API Gateway's integration timeout */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Folders of `projectRoot` copied into the bundle under the same name (after esbuild ran),
   * for files the handler reads at run time: `policies` lands at `${LAMBDA_TASK_ROOT}/policies`.
   *
   * @default - none
   */
  readonly bundleFolders?: readonly string[];
  /**
   * Files of `projectRoot` copied to the top of the bundle, next to `index.mjs`, for bundled
   * dependencies that read a file beside their own module (`${__dirname}/x.wasm`):
   * `node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm_bg.wasm` lands at
   * `${LAMBDA_TASK_ROOT}/cedar_wasm_bg.wasm`.
   *
   * @default - none
   */
  readonly bundleFiles?: readonly string[];
  /**
   * Packages esbuild leaves external (native code it cannot bundle), shipped in the bundle's
   * own `node_modules` with only the listed parts of each (relative to the package folder):
   * `{ name: 'onnxruntime-node', paths: ['package.json', 'dist', 'bin/napi-v6/linux/x64'] }`
   * lands at `${LAMBDA_TASK_ROOT}/node_modules/onnxruntime-node/…`, where the bundle's
   * `import('onnxruntime-node')` finds it. Copied from `projectRoot/node_modules`.
   *
   * @default - none
   */
  readonly packages?: readonly BundledPackage[];
  /**
   * Reserved concurrency: at most this many environments at once, and this many kept from the
   * account's pool for this function.
   *
   * @default - none: the account's unreserved pool
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Provisioned concurrency: this many environments kept initialized (no cold start), billed
   * while they exist. Lambda provisions versions and aliases only, so the function gets a
   * `live` alias on its current version that callers should invoke ({@link AegisFunction.invokeTarget}).
   *
   * @default - none: environments start on demand
   */
  readonly provisionedConcurrency?: number;
}

/**
 * One Lambda function the Aegis way: bundled by esbuild as minified ESM with an external
 * source map, the AWS SDK bundled in (nothing local-only), x86_64, X-Ray tracing, JSON logs into its own log group
 * with retention, and a role that starts with nothing but writing to that log group (no AWS
 * managed policies).
 *
 * @example
 * const fn = new AegisFunction(this, 'register', { entry: 'lambdas/register.ts', projectRoot, description: 'Register an artifact' });
 * bucket.grantPut(fn.function);
 */
export class AegisFunction extends Construct {
  public readonly function: lambda.Function;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;
  /** The `live` alias with provisioned concurrency, when {@link AegisFunctionProps.provisionedConcurrency} is set. */
  public readonly live: lambda.Alias | undefined;

  /** What callers invoke: the `live` alias when concurrency is provisioned, else the function ($LATEST). */
  public get invokeTarget(): lambda.IFunction {
    return this.live ?? this.function;
  }

  constructor(scope: Construct, id: string, props: AegisFunctionProps) {
    super(scope, id);
    if (!isAbsolute(props.projectRoot)) throw new Error('projectRoot must be an absolute path');
    if (isAbsolute(props.entry)) throw new Error('entry must be relative to projectRoot');
    const handler = props.handler ?? 'handler';
    if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(handler)) throw new Error('handler must be the name of an export of entry');
    const bundleFolders = props.bundleFolders ?? [];
    for (const folder of bundleFolders) {
      // Plain relative names only: they must stay inside both trees.
      if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(folder))
        throw new Error(`bundle folder ${folder} must be a relative path of A-Z a-z 0-9 _ - segments`);
    }
    const bundleFiles = props.bundleFiles ?? [];
    for (const file of bundleFiles) {
      const segments = file.split('/');
      if (!segments.every((seg) => /^[A-Za-z0-9_.@-]+$/.test(seg) && seg !== '.' && seg !== '..')) {
        throw new Error(`bundle file ${file} must be a relative path of A-Z a-z 0-9 _ . @ - segments`);
      }
    }
    if (new Set(bundleFiles.map((f) => basename(f))).size !== bundleFiles.length)
      throw new Error('bundle files must have distinct names (they land side by side)');
    const packages = props.packages ?? [];
    const segment = /^[A-Za-z0-9_.@-]+$/;
    for (const pkg of packages) {
      if (!/^(@[a-z0-9._-]+\/)?[a-z0-9._-]+$/.test(pkg.name)) throw new Error(`package ${pkg.name} is not an npm package name`);
      if (pkg.paths.length === 0) throw new Error(`package ${pkg.name}: name at least one path to ship`);
      for (const path of pkg.paths) {
        if (!path.split('/').every((seg) => segment.test(seg) && seg !== '.' && seg !== '..'))
          throw new Error(`package ${pkg.name}: path ${path} must be a relative path of A-Z a-z 0-9 _ . @ - segments`);
      }
    }
    if (
      props.reservedConcurrentExecutions !== undefined &&
      !(Number.isInteger(props.reservedConcurrentExecutions) && props.reservedConcurrentExecutions >= 1)
    )
      throw new Error('reservedConcurrentExecutions must be a whole number >= 1');
    const provisioned = props.provisionedConcurrency;
    if (provisioned !== undefined && !(Number.isInteger(provisioned) && provisioned >= 1))
      throw new Error('provisionedConcurrency must be a whole number >= 1');
    if (provisioned !== undefined && props.reservedConcurrentExecutions !== undefined && provisioned > props.reservedConcurrentExecutions)
      throw new Error(
        `provisionedConcurrency (${provisioned}) must not exceed reservedConcurrentExecutions (${props.reservedConcurrentExecutions})`,
      );

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

    const entry = join(props.projectRoot, props.entry);
    if (!existsSync(entry)) throw new Error(`entry ${entry} does not exist`);
    this.function = new lambda.Function(this, 'Function', {
      code: bundledCode({
        projectRoot: props.projectRoot,
        entry,
        bundleFolders,
        bundleFiles,
        packages,
      }),
      handler: `index.${handler}`,
      runtime: NODE_RUNTIME,
      // x86_64: the ONNX runtime serving will use has no working arm64 Lambda build
      architecture: lambda.Architecture.X86_64,
      description: props.description.slice(0, 256),
      memorySize: props.memorySize ?? 1024,
      ...(props.reservedConcurrentExecutions !== undefined && { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      timeout: props.timeout ?? Duration.seconds(29),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      // No --enable-source-maps: loading a multi-MB map costs every cold start; the external
      // map ships beside the bundle for whoever reads a stack trace.
      environment: { ...props.environment },
    });

    this.live =
      provisioned === undefined
        ? undefined
        : new lambda.Alias(this, 'Live', {
            aliasName: 'live',
            version: this.function.currentVersion,
            provisionedConcurrentExecutions: provisioned,
          });

    acknowledge(this.role, {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Active X-Ray tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions.',
    });
  }
}
