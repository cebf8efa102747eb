import type { Duration, StackProps } from 'aws-cdk-lib';
import { ROLES, isRole, parseRoleMapEntry, type RoleMapEntry } from '../kernel/identity.js';
import type { MutualTlsDomain } from './mutual-tls.js';
import type { ReplicationTarget } from './replication.js';
import type { ApiThrottling } from './rest-api.js';
import type { ServingFunctionConfig } from './api-functions.js';
import type { ServingAlarmConfig } from './serving-monitoring.js';

/** What an `AegisStack` is configured with (`bin/cdk.ts` reads it from the CDK context). */
export interface AegisStackProps extends StackProps {
  /** Environment name (`-c env=…`): lower-case letters, digits and dashes. */
  readonly envName: string;
  /**
   * IAM principal ARN → Aegis role (every model), or `{ role, prefixes?, teams? }` (the
   * models of those name prefixes and teams), for callers of the IAM-authorized API
   * (`AEGIS_IAM_ROLE_MAP`).
   *
   * @default {}
   */
  readonly iamRoleMap?: Readonly<Record<string, RoleMapEntry>>;
  /**
   * Where `lambdas/`, `package-lock.json`, `policies/` (bundled into the policy-deciding
   * functions) and `statemachines/` (the rollout ASL) are.
   *
   * @default REPO_ROOT
   */
  readonly projectRoot?: string;
  /**
   * Default COMPLIANCE retention of the audit archive.
   *
   * @default Duration.days(2557) (7 years)
   */
  readonly auditRetention?: Duration;
  /**
   * Cross-region replication of the artifact and audit-archive buckets (disaster recovery).
   *
   * @default - no replication (the `CrossRegionReplication` output says so)
   */
  readonly replication?: ReplicationTarget;
  /**
   * How often the audit chain is archived.
   *
   * @default Duration.minutes(5)
   */
  readonly auditArchiveRate?: Duration;
  /**
   * How often the audit chain's head is signed into the archive bucket (`audit-checkpoint`
   * job): the newest events, not yet archived, can be deleted unnoticed for at most this long
   * plus one run. Whole minutes (EventBridge's shortest rate is one minute).
   *
   * @default Duration.minutes(1)
   */
  readonly auditCheckpointRate?: Duration;
  /**
   * How long an upload may wait for its registration (whole days): the artifact bucket's
   * lifecycle rule and `AEGIS_PENDING_UPLOAD_TTL_SECONDS` of every function.
   *
   * @default Duration.days(1)
   */
  readonly pendingUploadExpiry?: Duration;
  /**
   * The serving retention horizon (whole days, 1 to 3650): `AEGIS_SERVING_RETENTION_DAYS` of
   * every function, and the drift bucket's expiry of input segments.
   *
   * @default Duration.days(14)
   */
  readonly servingRetention?: Duration;
  /**
   * How long a download URL stays valid (`AEGIS_DOWNLOAD_URL_TTL_SECONDS` of every function):
   * whole seconds, 30 s to 1 hour.
   *
   * @default Duration.minutes(5)
   */
  readonly downloadUrlTtl?: Duration;
  /**
   * The longest serving holds a sampled line before writing its input segment
   * (`AEGIS_SERVING_SEGMENT_SECONDS` of every function): whole seconds, 1 s to 2 minutes (at most
   * the functions' drift settle time, 120 s, or no function would start); on Lambda also the most
   * a reclaimed container may lose of the sample.
   *
   * @default Duration.seconds(10)
   */
  readonly servingSegmentInterval?: Duration;
  /**
   * How often the pending-upload expiry job runs.
   *
   * @default Duration.hours(1)
   */
  readonly pendingUploadExpiryRate?: Duration;
  /**
   * How often the pending-promotion expiry job runs (multisig promotions waiting past
   * `AEGIS_PENDING_PROMOTION_TTL_SECONDS`, 7 days by default, are marked expired).
   *
   * @default Duration.minutes(15)
   */
  readonly pendingPromotionExpiryRate?: Duration;
  /**
   * How often the serving-retention job deletes serving events and labels older than
   * `AEGIS_SERVING_RETENTION_DAYS` (hourly keeps each run's deletes small).
   *
   * @default Duration.hours(1)
   */
  readonly servingRetentionRate?: Duration;
  /**
   * How often the `drift-schedule` job looks for serving deployments whose latest drift window
   * (policies/drift.json) has no run yet, and starts one. Whole minutes.
   *
   * @default Duration.minutes(5)
   */
  readonly driftScheduleRate?: Duration;
  /**
   * SentinelNet's URL (`SENTINELNET_URL`) for the functions that make policy decisions.
   *
   * @default - they decide with the Cedar policies bundled from `policies/`
   */
  readonly sentinelnetUrl?: string;
  /**
   * Mutual TLS: the REST API on a custom domain that requires client certificates signed by
   * the truststore's CAs, with the execute-api endpoint disabled; every function gets
   * `REQUIRE_MTLS=true`.
   *
   * @default - no custom domain, no mutual TLS (the `MutualTls` output says so)
   */
  readonly mutualTls?: MutualTlsDomain;
  /**
   * API Gateway throttling: the stage's (every signed route), each public route's own, which
   * must not exceed the stage's, and each serving route's own.
   *
   * @default { stage: { rateLimit: 50, burstLimit: 100 }, public: { rateLimit: 5, burstLimit: 10 }, serving: { rateLimit: 100, burstLimit: 200 } }
   */
  readonly throttling?: ApiThrottling;
  /**
   * The serving function (`POST /v1/serving/{model}/{env}/predict`): memory and reserved
   * concurrency; and the serving alarms' thresholds (`ServingMonitoring`).
   *
   * @default { memoryMb: 1769 } (one full vCPU), no reserved concurrency, p99 alarm at 500 ms, canary error rate alarm at 5 %
   */
  readonly serving?: ServingFunctionConfig & ServingAlarmConfig;
  /**
   * An address subscribed to the alarm topic (it must confirm the subscription).
   *
   * @default - no subscription: subscribe to the `AlarmTopicArn` output
   */
  readonly alarmEmail?: string;
  /**
   * The web console on AWS (`ConsoleHosting`, a nested stack): S3 + CloudFront, Cognito sign-in
   * whose groups map to Aegis roles. Not supported with {@link mutualTls}: a browser's CORS
   * preflight carries no client certificate, and the execute-api endpoint is disabled then.
   *
   * @default true without mutualTls, false with it (true with mutualTls is refused)
   */
  readonly console?: boolean;
  /**
   * A value that, when it changes, makes the migrations run again on the next deploy even if
   * nothing else changed (`-c deployNonce=…`).
   *
   * @default - none: they run when the migrate code or the configuration changes
   */
  readonly deployNonce?: string;
}

/**
 * The settings of every function that props tune, checked as the functions check them:
 * `downloadUrlTtl` (default 5 minutes, whole seconds from 30 to 3600) and
 * `servingSegmentInterval` (default 10 s, whole seconds from 1 to 120: at most the functions'
 * drift settle time, or none would start).
 */
export function tunedSettings(props: Pick<AegisStackProps, 'downloadUrlTtl' | 'servingSegmentInterval'>): Record<string, string> {
  const ttl = props.downloadUrlTtl?.toSeconds() ?? 300;
  if (!Number.isInteger(ttl) || ttl < 30 || ttl > 3600) throw new Error(`downloadUrlTtl must be whole seconds from 30 to 3600, got ${ttl}`);
  const segment = props.servingSegmentInterval?.toSeconds({ integral: false }) ?? 10;
  if (!Number.isInteger(segment) || segment < 1 || segment > 120)
    throw new Error(`servingSegmentInterval must be whole seconds from 1 to 120 (the drift settle time), got ${segment}`);
  return { AEGIS_DOWNLOAD_URL_TTL_SECONDS: String(ttl), AEGIS_SERVING_SEGMENT_SECONDS: String(segment) };
}

/** The role map, checked: ARN keys, known roles, valid scoped entries (errors name the entry). */
export function checkIamRoleMap(map: Readonly<Record<string, RoleMapEntry>>): Readonly<Record<string, RoleMapEntry>> {
  for (const [principal, role] of Object.entries(map)) {
    if (!principal.startsWith('arn:')) throw new Error(`iamRoleMap key ${principal} is not an IAM principal ARN`);
    if (typeof role === 'string' && !isRole(role))
      throw new Error(`iamRoleMap maps ${principal} to ${role}; roles are ${ROLES.join(', ')}`);
    const entry = parseRoleMapEntry(role);
    if ('problem' in entry) throw new Error(`iamRoleMap maps ${principal} to an invalid entry: ${entry.problem}`);
  }
  return map;
}

/** Whether the stack builds the console: on by default, off with mutual TLS (asking for both is refused). */
export function consoleEnabled(props: Pick<AegisStackProps, 'console' | 'mutualTls'>): boolean {
  if (props.console && props.mutualTls)
    throw new Error('console: the web console is not supported with mutualTls (a browser preflight carries no client certificate)');
  return props.console ?? !props.mutualTls;
}
