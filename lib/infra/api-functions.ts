import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ROUTES } from '../platform/http/routes.js';
import {
  API_FUNCTION_NAMES,
  API_ROUTE_IDS,
  apiFunctionEntry,
  ROUTE_FUNCTION,
  routesOf,
  type ApiFunctionName,
  type ApiRouteId,
} from '../platform/http/route-functions.js';
import { grantAccess, type AccessResources, type RouteAccess } from './access.js';
import { AegisFunction } from './aegis-function.js';
import type { BundledPackage } from './lambda-bundle.js';
import { DRIFT_ROUTE_ACCESS } from './drift-workflow.js';
import { driftPolicyBundle, POLICIES_DIR, POLICIES_FOLDER } from './policies-bundle.js';

export { API_FUNCTION_NAMES, API_ROUTE_IDS, ROUTE_FUNCTION, type ApiFunctionName, type ApiRouteId };
export type { RolloutStateMachines, RouteAccess } from './access.js';

/**
 * Least privilege per route. Public keys are served from the database, so listing keys and
 * verifying signatures need no KMS access at all. Every route that changes state appends an
 * audit event signed with the audit key in the same transaction (register, datasetsCreate,
 * keysRotate, keysEnroll, keysRevoke, the promotion routes), as does archiving (checkpoints); register,
 * lineageBundle and the routes that request a promotion also sign with the manifest key (the
 * promotion record). Only the two audit-archive routes touch the archive bucket; only the
 * routes that can let a rollout go ahead may start one of the two rollout state machines.
 * Routes share a function only when their entries here are the same ({@link ROUTE_FUNCTION}).
 */
export const ROUTE_ACCESS = {
  // Only the routes that touch artifact objects get the artifact bucket: uploads (presigned
  // PUT), downloads (presigned GET), registration (hash, sidecars, retention), validation and
  // the policy routes (they re-verify the stored bytes). Every other route answers from the database alone.
  health: {},
  openapi: {},
  // select 1, the artifact bucket's Object Lock configuration and DescribeKey on both signing
  // keys: what every function's startup checks may already read (grantStartupChecks)
  readyz: {},
  keysList: {},
  // key.rotated / key.revoked events
  keysRotate: { describeSigningKeys: true, signAuditEvents: true },
  uploadsCreate: { artifacts: 'write' }, // presigned PUT, multipart uploads and their parts (access.ts)
  uploadParts: { artifacts: 'write' },
  // manifest.signed / artifact.registered events; a large upload starts the register state machine. In the same
  // function, registerInline writes the request's bytes as register writes the sidecars (s3:PutObject)
  register: { artifacts: 'write', signManifests: true, signAuditEvents: true, startRegistrations: true },
  registerInline: { artifacts: 'write', signManifests: true, signAuditEvents: true, startRegistrations: true },
  modelsList: {},
  // model.team.set events
  modelTeamSet: { signAuditEvents: true },
  versionsList: {},
  versionGet: {},
  artifactGet: {},
  // re-hashes the stored bytes
  artifactValidate: { artifacts: 'read' },
  versionValidate: { artifacts: 'read' },
  // presign a GET of the registered version (s3:GetObject/GetObjectVersion: a presigned URL
  // carries the signer's rights) and append artifact.download_issued events
  artifactDownload: { artifacts: 'read', signAuditEvents: true },
  versionDownload: { artifacts: 'read', signAuditEvents: true },
  envDownload: { artifacts: 'read', signAuditEvents: true },
  // checks a manifest against the registered record and the key ring (database only)
  verifyManifest: {},
  // dataset.registered events
  datasetsCreate: { signAuditEvents: true },
  datasetGet: {},
  lineageGet: {},
  // the bundle index is signed with the manifest key
  lineageBundle: { signManifests: true },
  // events come from the database only
  auditList: {},
  whoami: {},
  registrationGet: {}, // an asynchronous registration's row (the database only)
  // reads segments and checkpoints back from the archive
  auditVerify: { auditArchive: 'read' },
  // writes segments and signed checkpoints (the scheduled archiver gets the same)
  auditArchive: { auditArchive: 'write', signAuditEvents: true },
  // key.enrolled events; the public key comes in the request
  keysEnroll: { signAuditEvents: true },
  // key.revoked events; revocation is a database change (the KMS key itself is untouched)
  keysRevoke: { signAuditEvents: true },
  // promotion re-verifies the stored artifact bytes, signs the promotion record with the
  // manifest key, appends promotion.requested and starts the rollout when policy allows
  promote: { artifacts: 'read', signManifests: true, signAuditEvents: true, startRollouts: true },
  promoteVersion: { artifacts: 'read', signManifests: true, signAuditEvents: true, startRollouts: true },
  rollback: { artifacts: 'read', signManifests: true, signAuditEvents: true, startRollouts: true },
  // records, approvals and step traces come from the database only
  promotionsByArtifact: {},
  promotionGet: {},
  // promotion.approval_* events; the last approval starts the rollout
  promotionApprove: { signAuditEvents: true, startRollouts: true },
  // promotion.abort_requested events; the abort starts the rollback state machine (as a quarantine does)
  promotionAbort: { signAuditEvents: true, startRollouts: true },
  // promotion.cancelled events
  promotionCancel: { signAuditEvents: true },
  // a quarantine signs its record with the manifest key and appends quarantine.* events; applied,
  // it cancels pending promotions and starts rollbacks: the rollback route's grants (re-verifying the
  // artifact rolled back to, its signed promotion record) and the rollback state machine that aborts a canary
  quarantine: { artifacts: 'read', signManifests: true, signAuditEvents: true, startRollouts: true },
  // the approval that completes a quarantine's quorum enforces it like the quarantine route
  quarantineApprove: { artifacts: 'read', signManifests: true, signAuditEvents: true, startRollouts: true },
  // a release signs its record when applied; it starts nothing
  quarantineRelease: { signManifests: true, signAuditEvents: true },
  quarantineGet: {},
  // Serving reads artifact bytes (pinned version ids, as the loader reads them) and the
  // database (routes, the key ring, quarantines); it appends serving.verified once per artifact
  // and environment, and serving.refused, signed with the audit key. Its serving events are log
  // lines (no write: the serving-ingest function inserts them).
  servingPredict: { artifacts: 'read', signAuditEvents: true, driftInputs: 'write' },
  servingFeedback: {}, // labels into serving_labels: data, not audited (the database only)
  servingStatus: {}, // the route, the ingested serving_events and labels, the verdicts (the database only)
  ...DRIFT_ROUTE_ACCESS,
  // subscription.* events; no AWS service: webhooks go out over the internet
  webhooksCreate: { signAuditEvents: true },
  webhookDelete: { signAuditEvents: true },
  webhookSecret: { signAuditEvents: true },
  // the database only (the test delivery goes out over the internet)
  webhooksList: {},
  webhookGet: {},
  webhookDeliveries: {},
  webhookReplay: {},
  webhookTest: {},
  eventsTail: {}, // the chain, from the database only
} as const satisfies Record<ApiRouteId, RouteAccess>;

/** The serving function's memory when the environment names none: 1,769 MB is one full vCPU. */
export const DEFAULT_SERVING_MEMORY_MB = 1769;

/** The serving function's deploy-time settings (`serving` in environments.json). */
export interface ServingFunctionConfig {
  /** @default DEFAULT_SERVING_MEMORY_MB */
  readonly memoryMb?: number;
  /** @default - none (the account's unreserved pool) */
  readonly reservedConcurrency?: number;
  /** Environments kept initialized (a `live` alias the API invokes); at most `reservedConcurrency`. @default - none */
  readonly provisionedConcurrency?: number;
}

/** The native ONNX runtime's package: esbuild cannot bundle it; only its JS and its Lambda platform's binary ship. */
export const ONNX_PACKAGE = 'onnxruntime-node';

/**
 * onnxruntime-node trimmed to what Lambda (x86_64 Linux) loads: its JS (`dist`), its
 * `package.json`, the linux/x64 native library of each N-API version it ships (46 MB of its
 * 301 MB), and onnxruntime-common (pure JS). Empty when the optional dependency is not
 * installed: the serving function then refuses ONNX artifacts (`UNSUPPORTED_FORMAT`).
 */
export function onnxPackages(projectRoot: string): BundledPackage[] {
  const bin = join(projectRoot, 'node_modules', ONNX_PACKAGE, 'bin');
  if (!existsSync(bin)) return [];
  const napi = readdirSync(bin)
    .filter((d) => /^napi-v\d+$/.test(d) && existsSync(join(bin, d, 'linux', 'x64')))
    .map((d) => `bin/${d}/linux/x64`);
  if (napi.length === 0) return [];
  return [
    { name: ONNX_PACKAGE, paths: ['package.json', 'dist', ...napi] },
    { name: 'onnxruntime-common', paths: ['package.json', 'dist'] },
  ];
}

/** Routes whose bundles carry packages esbuild leaves external: serving's ONNX runtime, nothing else. */
export const ROUTE_PACKAGES: Partial<Record<ApiRouteId, (projectRoot: string) => BundledPackage[]>> = {
  servingPredict: onnxPackages,
};

/**
 * Routes that ask SentinelNet for a decision: their bundles carry the repo's `policies/`
 * (read at run time from {@link POLICIES_DIR}, also for the risk tiers when SentinelNet is
 * remote) and the Cedar engine's WebAssembly ({@link CEDAR_WASM}).
 */
export const POLICY_DECIDING_ROUTES = [
  'promote',
  'promoteVersion',
  'rollback',
  'quarantine',
  'quarantineRelease',
  'quarantineApprove',
] as const satisfies readonly ApiRouteId[];

/** Where the policy-deciding functions find SentinelNet's policy files (`AEGIS_POLICIES_DIR`). */
export { POLICIES_DIR };
/** The Cedar engine's WebAssembly, which its bundled loader reads from beside index.mjs (relative to the project root). */
export const CEDAR_WASM = 'node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm_bg.wasm';

/** The resources every function is granted on ({@link AccessResources}), plus where the code is. */
export interface ApiFunctionsProps extends AccessResources {
  /** Absolute path of the repository root (holds `lambdas/` and `package-lock.json`). */
  readonly projectRoot: string;
  /** Environment shared by every function (configuration read by `lib/platform/config.ts`). */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * SentinelNet's URL (`SENTINELNET_URL`) for the policy-deciding routes.
   *
   * @default - decide with the bundled Cedar policies
   */
  readonly sentinelnetUrl?: string;
  /** @default ROUTE_ACCESS */
  readonly access?: Readonly<Record<ApiRouteId, RouteAccess>>;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** @default { memoryMb: DEFAULT_SERVING_MEMORY_MB } */
  readonly serving?: ServingFunctionConfig;
}

/** What a function's routes must agree on to share it: grants, bundle and settings. */
function sharedNeeds(routeId: ApiRouteId, access: Readonly<Record<ApiRouteId, RouteAccess>>): string {
  const decides = (POLICY_DECIDING_ROUTES as readonly ApiRouteId[]).includes(routeId);
  return JSON.stringify({ access: access[routeId], decides, packages: routeId in ROUTE_PACKAGES, serving: routeId === 'servingPredict' });
}

/**
 * The API's Lambda functions: one per {@link ROUTE_FUNCTION} entry, serving its routes
 * (`lambdas/api/*.ts`), each with exactly the grants its routes need. Routes that need
 * different grants, bundles or settings never share a function: synthesis fails naming them.
 *
 * @example
 * const fns = new ApiFunctions(this, 'Functions', { projectRoot, environment, database, artifactBucket, auditArchiveBucket, dataKey, manifestSigningKey, auditSigningKey });
 * fns.functions.register.function.functionArn; // the function serving the register route
 */
export class ApiFunctions extends Construct {
  /** The function serving each route (routes of one function share the object). */
  public readonly functions: Readonly<Record<ApiRouteId, AegisFunction>>;
  /** Each function by its name. */
  public readonly byName: Readonly<Record<ApiFunctionName, AegisFunction>>;

  constructor(scope: Construct, id: string, props: ApiFunctionsProps) {
    super(scope, id);
    const access: Readonly<Record<ApiRouteId, RouteAccess>> = props.access ?? ROUTE_ACCESS;
    const functions = {} as Record<ApiRouteId, AegisFunction>;
    const byName = {} as Record<ApiFunctionName, AegisFunction>;
    for (const name of API_FUNCTION_NAMES) {
      const routes: ApiRouteId[] = routesOf(name);
      const first = routes[0]!;
      const differing = routes.filter((r) => sharedNeeds(r, access) !== sharedNeeds(first, access));
      if (differing.length > 0)
        throw new Error(
          `the ${name} function serves routes that need different grants, bundles or settings: ${first} and ${differing.join(', ')} (give them their own function in ROUTE_FUNCTION)`,
        );
      const environment: Record<string, string> = { ...props.environment };
      if (access[first].startRollouts && props.rolloutStateMachines) {
        environment.AEGIS_PROMOTION_STATE_MACHINE_ARN = props.rolloutStateMachines.promotion.stateMachineArn;
        environment.AEGIS_ROLLBACK_STATE_MACHINE_ARN = props.rolloutStateMachines.rollback.stateMachineArn;
      }
      const decidesPolicy = (POLICY_DECIDING_ROUTES as readonly ApiRouteId[]).includes(first);
      if (decidesPolicy) {
        environment.AEGIS_POLICIES_DIR = POLICIES_DIR;
        if (props.sentinelnetUrl !== undefined) environment.SENTINELNET_URL = props.sentinelnetUrl;
      }
      // a function starting drift runs reads policies/drift.json (the deployment's window)
      const drift = access[first].startDriftRuns ? driftPolicyBundle(environment) : undefined;
      const packages = ROUTE_PACKAGES[first]?.(props.projectRoot) ?? [];
      if (ROUTE_PACKAGES[first] && packages.length === 0)
        Annotations.of(this).addWarningV2(
          'aegis:onnx-missing',
          `${ONNX_PACKAGE} is not installed in ${props.projectRoot}: the ${name} function will refuse ONNX artifacts (UNSUPPORTED_FORMAT)`,
        );
      const serving = first === 'servingPredict';
      const fn = new AegisFunction(this, name, {
        entry: apiFunctionEntry(name),
        projectRoot: props.projectRoot,
        description: functionDescription(name, routes),
        environment: drift?.environment ?? environment,
        ...(decidesPolicy && { bundleFolders: [POLICIES_FOLDER] }),
        ...((decidesPolicy || drift) && { bundleFiles: [...(decidesPolicy ? [CEDAR_WASM] : []), ...(drift?.bundleFiles ?? [])] }),
        ...(packages.length > 0 && { packages }),
        ...(serving && {
          memorySize: props.serving?.memoryMb ?? DEFAULT_SERVING_MEMORY_MB,
          ...(props.serving?.reservedConcurrency !== undefined && { reservedConcurrentExecutions: props.serving.reservedConcurrency }),
          ...(props.serving?.provisionedConcurrency !== undefined && { provisionedConcurrency: props.serving.provisionedConcurrency }),
        }),
        ...(props.logRetention !== undefined && { logRetention: props.logRetention }),
      });
      grantAccess(fn, access[first], props);
      byName[name] = fn;
      for (const r of routes) functions[r] = fn;
    }
    this.functions = functions;
    this.byName = byName;
  }
}

/**
 * A function's description (at most 256 characters, Lambda's limit): its name and its routes'
 * ids, or for a single route its method, path and summary.
 */
export function functionDescription(name: ApiFunctionName, routes: readonly ApiRouteId[]): string {
  if (routes.length === 1) {
    const route = ROUTES[routes[0]!];
    return `${route.method} ${route.path}: ${route.summary}`.slice(0, 256);
  }
  const text = `API function ${name}: ${routes.join(', ')}`;
  if (text.length > 256)
    throw new Error(`the ${name} function's description (${text.length} characters) exceeds Lambda's 256: split the function`);
  return text;
}
