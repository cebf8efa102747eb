import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDataApiServer, type DataApiServer } from '../../support/data-api-server.js';
import pg from 'pg';
import { startMoto, type Moto } from '../../support/moto.js';
import { motoSecrets } from '../../support/moto-secrets.js';
import { createTestDatabase } from '../../support/postgres.js';
import { startApiGateway, type IamIdentity, type RunningApiGateway } from './api-gateway.js';
import { deployStatefulResources } from './deploy.js';
import { startLambdaInvoke, type RunningLambdaInvoke } from './lambda-invoke.js';
import { LambdaFleet, LambdaInvokeError } from './lambdas.js';
import { resolver } from './resolve.js';
import { startS3TamperProxy } from './s3-tamper-proxy.js';
import { LambdaFunctionError, startStepFunctions, stateMachineArnFor, type RunningStepFunctions } from './step-functions.js';
import { E2E_ACCOUNT, E2E_ROLE_MAP, functionAssets, sharedAssembly, type Assembly, type FunctionAsset } from './synth.js';
import type { CfnTemplate } from './template.js';

export const REGION = 'eu-west-1';
const LAMBDA_TASK_ROOT = '/var/task';

export interface Caller {
  /** environment for the `aegis` CLI: SigV4 with this identity against the emulated API */
  env: Record<string, string>;
  arn: string;
}

export interface World {
  assembly: Assembly;
  api: RunningApiGateway;
  sfn: RunningStepFunctions;
  fleet: LambdaFleet;
  /** Lambda's Invoke API for functions that invoke functions (AWS_ENDPOINT_URL_LAMBDA): every call is kept */
  lambda: RunningLambdaInvoke;
  /** logical id → physical name, for buckets */
  buckets: Record<string, string>;
  /** the S3 emulator's endpoint (path-style), to read buckets directly */
  s3Endpoint: string;
  /** moto_server, which also holds the stack's event bus (EventBridge) and any SQS queue a test taps it with */
  motoEndpoint: string;
  keyArns: Record<string, string>;
  /** the PostgreSQL database behind the Data API server: what a database owner could edit directly */
  databaseUrl: string;
  /** the same database as the application user of the stack's secret (what every function but migrate connects as) */
  appDatabaseUrl: string;
  tamper(bucket: string, key: string): void;
  /** the CLI environment of each role of the synthesized role map */
  as(role: string): Caller;
  /** a function of the template by the route id its description names, or by logical id prefix */
  functionId(match: (fn: FunctionAsset) => boolean): string;
  logs: string[];
  stop(): Promise<void>;
}

/** What a suite changes in the world it starts. */
export interface WorldOptions {
  /** edits a function's folder before it starts (its deployed configuration) */
  configure?(fn: FunctionAsset, dir: string): void;
  /** more environment for a function, over the template's */
  extraEnv?(fn: FunctionAsset): Record<string, string>;
  /** how long every Wait of the state machines lasts, in ms @default 0 */
  waitMs?: number;
}

/**
 * The synthesized stack brought up on emulators: stateful resources from the template on
 * moto_server (S3 behind a proxy that can tamper, KMS), Aurora as the Data API server over a
 * fresh PostgreSQL database, every function's bundle alone in its own Lambda-like process
 * with the environment of the template (resolved, `/var/task` mapped to its folder), the
 * state machines of the template run by the local ASL runner with every Task invoking the
 * bundled function, and the REST API of the template with IAM (SigV4) authorization.
 */
export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  const assembly = await sharedAssembly();
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const db = await createTestDatabase();
    if (!db) throw new Error('the AWS-mode suite needs the PostgreSQL server (see test/support/postgres.ts)');
    stops.push(() => db.drop());
    const moto: Moto | undefined = await startMoto();
    if (!moto) throw new Error('the AWS-mode suite needs moto_server');
    stops.push(() => moto.stop());
    const proxy = await startS3TamperProxy(moto.endpoint);
    stops.push(() => proxy.stop());
    // The cluster's database of the template (`rdsdata://aegis?…`) is this run's fresh database,
    // and each call connects as the user of the secret its secretArn names, read from moto's
    // Secrets Manager: the migrate function as the master user, every other as the application user.
    const secrets = motoSecrets(moto.endpoint, REGION);
    const secretValues = new Map<string, Promise<unknown>>();
    const dataApi: DataApiServer = await startDataApiServer({
      pgUrl: db.url,
      databases: { aegis: new URL(db.url).pathname.slice(1) },
      secrets(arn) {
        let v = secretValues.get(arn);
        if (!v) secretValues.set(arn, (v = secrets.json(arn)));
        return v;
      },
    });
    stops.push(() => dataApi.stop());

    const master = new URL(db.url);
    const deployed = await deployStatefulResources(assembly, {
      s3: moto.endpoint,
      kms: moto.endpoint,
      secretsmanager: moto.endpoint,
      events: moto.endpoint,
      region: REGION,
      accountId: E2E_ACCOUNT,
      masterLogin: { username: decodeURIComponent(master.username), password: decodeURIComponent(master.password) },
    });
    const appUser = Object.values(deployed.secrets)[0]?.value;
    if (!appUser?.username || !appUser.password) throw new Error('the template has no application database user secret');
    // the role the migrate function creates lives on the server, beyond the database: dropped after it
    stops.unshift(async () => {
      const c = new pg.Client({ connectionString: master.toString().replace(/\/[^/]*$/, '/postgres') });
      await c.connect();
      try {
        await c.query(`drop role if exists ${appUser.username}`);
      } finally {
        await c.end();
      }
    });
    const appDatabaseUrl = new URL(db.url);
    appDatabaseUrl.username = appUser.username;
    appDatabaseUrl.password = appUser.password;
    const template = assembly.template as unknown as CfnTemplate;
    for (const [id, r] of Object.entries(assembly.template.Resources)) {
      if (r.Type === 'AWS::StepFunctions::StateMachine') deployed.refs[id] = stateMachineArnFor(id, template, REGION, E2E_ACCOUNT);
    }
    const resolve = resolver(deployed);

    const root = mkdtempSync(join(tmpdir(), 'aegis-e2e-'));
    stops.push(async () => rmSync(root, { recursive: true, force: true }));
    const logs: string[] = [];
    let sfnEndpoint = '';
    const functions = functionAssets(assembly);
    const byName = new Map(functions.map((fn) => [resolve({ Ref: fn.logicalId }), fn.logicalId]));
    const lambda = await startLambdaInvoke({ functions: byName, invoke: (id, payload) => fleet.invoke(id, payload) });
    stops.push(() => lambda.stop());
    const fleet = new LambdaFleet({
      functions,
      root,
      onLog: (id, line) => void logs.push(`${id}: ${line}`),
      prepare: (fn, dir) => opts.configure?.(fn, dir),
      environment(fn, dir) {
        const env: Record<string, string> = {};
        for (const [k, v] of Object.entries(fn.environment)) {
          const value = resolve(v);
          env[k] = value.startsWith(LAMBDA_TASK_ROOT) ? dir + value.slice(LAMBDA_TASK_ROOT.length) : value;
        }
        return {
          ...env,
          AWS_REGION: REGION,
          AWS_DEFAULT_REGION: REGION,
          AWS_ACCESS_KEY_ID: 'ASIAE2EFUNCTIONROLE',
          AWS_SECRET_ACCESS_KEY: 'function-role-secret',
          AWS_SESSION_TOKEN: 'function-role-session',
          AWS_ENDPOINT_URL_S3: proxy.endpoint,
          AWS_ENDPOINT_URL_KMS: moto.endpoint,
          AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.endpoint,
          AWS_ENDPOINT_URL_SFN: sfnEndpoint,
          AWS_ENDPOINT_URL_RDS_DATA: dataApi.endpoint,
          AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
          AWS_ENDPOINT_URL_EVENTBRIDGE: moto.endpoint,
          // emulators: path-style bucket addresses (real S3 uses virtual hosts)
          AEGIS_S3_FORCE_PATH_STYLE: 'true',
          // moto has no Ed25519: its P-256 keys pass the production key check only under the
          // test allowance, which config honours because the KMS endpoint above is loopback
          AEGIS_TEST_ALLOW_P256_KMS_KEYS: 'true',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          // each function's own /tmp (serving caches verified artifacts there), removed with the world
          TMPDIR: mkdtempSync(join(root, 'tmp-')),
          ...opts.extraEnv?.(fn),
        };
      },
    });
    stops.push(() => fleet.stop());

    const sfn = await startStepFunctions({
      template,
      resolve,
      region: REGION,
      accountId: E2E_ACCOUNT,
      waitTimeScale: opts.waitMs ?? 0,
      retryIntervalMs: 10,
      invokeLambda: async (id, payload) => {
        try {
          return await fleet.invoke(id, payload);
        } catch (e) {
          if (e instanceof LambdaInvokeError) throw new LambdaFunctionError(e.errorType, e.errorMessage);
          throw e;
        }
      },
    });
    stops.push(() => sfn.stop());
    sfnEndpoint = sfn.endpoint;

    const identities: Record<string, IamIdentity> = {};
    const callers: Record<string, Caller> = {};
    for (const roleArn of Object.keys(E2E_ROLE_MAP)) {
      const role = roleArn.split('/').pop()!.replace(/^e2e-/, '');
      const accessKeyId = `ASIAE2E${role.toUpperCase()}`.padEnd(20, 'X');
      const secretAccessKey = `secret-of-${role}`;
      const sessionToken = `session-of-${role}`;
      const roleName = roleArn.split('/').pop()!;
      const arn = `arn:aws:sts::${E2E_ACCOUNT}:assumed-role/${roleName}/e2e`;
      identities[accessKeyId] = { secretAccessKey, arn, sessionToken };
      callers[role] = {
        arn,
        env: {
          AWS_ACCESS_KEY_ID: accessKeyId,
          AWS_SECRET_ACCESS_KEY: secretAccessKey,
          AWS_SESSION_TOKEN: sessionToken,
          AWS_REGION: REGION,
          AEGIS_SIGV4: 'true',
          AEGIS_TOKEN: '',
        },
      };
    }
    const api = await startApiGateway({
      template,
      region: REGION,
      accountId: E2E_ACCOUNT,
      identities,
      invoke: (id, event) => fleet.invoke(id, event),
    });
    stops.push(() => api.stop());
    for (const c of Object.values(callers)) c.env.AEGIS_URL = api.url;

    return {
      assembly,
      api,
      sfn,
      fleet,
      lambda,
      buckets: deployed.buckets,
      s3Endpoint: moto.endpoint,
      motoEndpoint: moto.endpoint,
      databaseUrl: db.url,
      appDatabaseUrl: appDatabaseUrl.toString(),
      keyArns: Object.fromEntries(Object.keys(deployed.keySpecs).map((id) => [id, deployed.attrs[`${id}.Arn`]!])),
      tamper: proxy.tamper,
      as(role) {
        const c = callers[role];
        if (!c) throw new Error(`no identity with role ${role} in the synthesized role map`);
        return c;
      },
      functionId(match) {
        const found = functions.filter(match);
        if (found.length !== 1) throw new Error(`${found.length} functions match`);
        return found[0]!.logicalId;
      },
      logs,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Edits a JSON file of a function's folder in place (its deployed configuration). */
export function editJson(file: string, edit: (value: any) => void): void {
  const value = JSON.parse(readFileSync(file, 'utf8'));
  edit(value);
  writeFileSync(file, JSON.stringify(value));
}
