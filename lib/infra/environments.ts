/**
 * The per-environment configuration file (`environments.json` at the repo root, or
 * `-c environmentsFile=<path>`): one checked entry per environment with what differs between
 * them — account and region, the IAM role map, the alarm email, the audit and serving retention,
 * replication, mutual TLS, API throttles, the serving function's memory and concurrency and its alarms' thresholds, tags and termination protection.
 * Read by `bin/cdk.ts` and by the deploy guard (`aegis deploy-guard`): it imports no CDK, so the CLI bundle carries none.
 */
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { RoleMapEntrySchema } from '../kernel/identity.js';

const Arn = z.string().regex(/^arn:aws[a-z-]*:/, 'not an ARN');
const Region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'not an AWS region (e.g. eu-west-1)');

const Throttle = z.strictObject({
  rateLimit: z.number().positive('must be more than 0 requests per second'),
  burstLimit: z.number().int('must be a whole number of requests').min(1, 'must be at least 1'),
});

/** The scheduled jobs whose rate an environment may set (`schedules`): the stack prop each sets is `<name>Rate`. */
export const SCHEDULED_JOB_RATES = [
  'auditArchiveMinutes',
  'auditCheckpointMinutes',
  'pendingUploadExpiryMinutes',
  'pendingPromotionExpiryMinutes',
  'servingRetentionMinutes',
  'driftScheduleMinutes',
] as const;

const Environment = z.strictObject({
  /** with `region`: the stack is deployed there (AZ lookups come from the committed cdk.context.json) */
  account: z
    .string()
    .regex(/^\d{12}$/, 'not a 12-digit AWS account id')
    .optional(),
  region: Region.optional(),
  /** IAM principal ARN → Aegis role, or `{ role, prefixes?, teams? }` for a scoped one (`AEGIS_IAM_ROLE_MAP`) */
  roleMap: z.record(Arn, RoleMapEntrySchema).optional(),
  alarmEmail: z.email('not an email address').optional(),
  auditRetentionDays: z.number().int().min(1).max(36500).optional(),
  downloadUrlTtlSeconds: z.number().int().min(30).max(3600).optional(),
  /** the longest serving holds a sampled line before writing its input segment (`AEGIS_SERVING_SEGMENT_SECONDS`) */
  servingSegmentSeconds: z.number().int().min(1).max(120).optional(),
  /** serving events, labels and input segments (the drift bucket's lifecycle rule) are kept this many days */
  servingRetentionDays: z
    .number()
    .int('must be a whole number of days')
    .min(1, 'must be at least 1 day')
    .max(3650, 'must be at most 3650 days')
    .optional(),
  /** how often each scheduled job runs, in whole minutes (EventBridge's shortest rate is one minute; at most a day) */
  schedules: z
    .strictObject(
      Object.fromEntries(
        SCHEDULED_JOB_RATES.map((k) => [
          k,
          z
            .number()
            .int('must be a whole number of minutes')
            .min(1, 'must be at least 1 minute')
            .max(1440, 'must be at most 1440 minutes (a day)')
            .optional(),
        ]),
      ) as Record<(typeof SCHEDULED_JOB_RATES)[number], z.ZodOptional<z.ZodNumber>>,
    )
    .optional(),
  sentinelnetUrl: z.url({ protocol: /^https?$/, error: 'not an http(s) URL' }).optional(),
  replication: z.strictObject({ region: Region, artifactBucketArn: Arn, auditArchiveBucketArn: Arn, kmsKeyArn: Arn }).optional(),
  mutualTls: z
    .strictObject({
      domainName: z.string().min(1),
      certificateArn: Arn,
      truststoreUri: z.string().regex(/^s3:\/\/[^/]+\/.+/, 'not an s3://bucket/key URI'),
      truststoreVersion: z.string().min(1).optional(),
    })
    .optional(),
  /** API Gateway throttles (requests/s, burst): the stage's, and each public route's own (no higher) */
  throttling: z.strictObject({ stage: Throttle.optional(), public: Throttle.optional(), serving: Throttle.optional() }).optional(),
  /** the serving function: memory (128-10240 MB, default 1769: one vCPU), reserved and provisioned concurrency; the serving alarms' thresholds */
  serving: z
    .strictObject({
      memoryMb: z
        .number()
        .int('must be a whole number of MB')
        .min(128, 'must be at least 128 MB')
        .max(10240, "must be at most 10240 MB (Lambda's maximum)")
        .optional(),
      reservedConcurrency: z.number().int('must be a whole number').min(1, 'must be at least 1').optional(),
      /** environments kept initialized (no cold start; billed while provisioned) */
      provisionedConcurrency: z.number().int('must be a whole number').min(1, 'must be at least 1').optional(),
      /** the p99 latency alarm's threshold (ms, warm requests, per variant; default 500) */
      alarmLatencyP99Ms: z
        .number()
        .positive('must be more than 0 ms')
        .max(900_000, "must be at most 900000 ms (Lambda's longest timeout)")
        .optional(),
      /** the canary error rate alarm's threshold (0-1 of canary requests; default 0.05) */
      alarmCanaryErrorRate: z.number().gt(0, 'must be more than 0').lt(1, 'must be less than 1').optional(),
      /** the ingest lag alarm's threshold (minutes behind the oldest event of a delivery; default 10) */
      alarmIngestLagMinutes: z
        .number()
        .int('must be a whole number of minutes')
        .min(1, 'must be at least 1 minute')
        .max(1440, 'must be at most 1440 minutes (a day)')
        .optional(),
    })
    .refine(
      (s) =>
        s.provisionedConcurrency === undefined || s.reservedConcurrency === undefined || s.provisionedConcurrency <= s.reservedConcurrency,
      {
        message: 'must not exceed reservedConcurrency',
        path: ['provisionedConcurrency'],
      },
    )
    .optional(),
  /** on every resource of the stack, besides `aegis:env` */
  tags: z.record(z.string().regex(/^[\w.:/=+\-@ ]{1,128}$/, 'not a valid tag key'), z.string().max(256)).optional(),
  /** the web console (S3 + CloudFront + Cognito, a nested stack); @default true, false with mutualTls */
  console: z.boolean().optional(),
  /** @default true for an environment named `prod`, else false */
  terminationProtection: z.boolean().optional(),
});
export type EnvironmentConfig = z.infer<typeof Environment>;

const File = z.strictObject({
  $comment: z.string().optional(),
  environments: z.record(
    z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,19}$/, 'environment names are 1-20 of a-z 0-9 - starting with a letter')
      // the console's hosted sign-in domain is `aegis-<name>-<account>`, and Cognito refuses these words in it
      .refine(
        (name) => !/aws|amazon|cognito/.test(name),
        "environment names may not contain aws, amazon or cognito (Cognito refuses them in the console's sign-in domain aegis-<name>-<account>)",
      ),
    Environment,
  ),
});

/**
 * Reads and checks the file. Errors name the file and the exact field
 * (`environments.json: environments.prod.alarmEmail: not an email address`).
 */
export function loadEnvironments(path: string): Readonly<Record<string, EnvironmentConfig>> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : `not JSON (${(e as Error).message})`}`, {
      cause: e,
    });
  }
  const parsed = File.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join('.') || '(root)';
    const what =
      issue.code === 'unrecognized_keys'
        ? `unknown field ${issue.keys.join(', ')}`
        : issue.code === 'invalid_key'
          ? (issue.issues[0]?.message ?? issue.message)
          : issue.message;
    throw new Error(`${path}: ${where}: ${what}`);
  }
  for (const [name, env] of Object.entries(parsed.data.environments))
    if ((env.account === undefined) !== (env.region === undefined))
      throw new Error(`${path}: environments.${name}: account and region go together (both, or neither for an environment-agnostic stack)`);
  return parsed.data.environments;
}
