/**
 * The interfaces the services need. Each has one adapter per mode under
 * `lib/adapters/local` and `lib/adapters/aws`, and one contract test suite under
 * `test/contracts` that every adapter passes.
 */
import type { Readable } from 'node:stream';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from './db/schema.js';
import type { KeyPurpose, KeyRecord, SignatureAlg } from './core/signatures.js';
import type { CanaryJudgement } from './core/canary-judge.js';

// ---------------------------------------------------------------- Database

/**
 * The registry database: one Kysely SQL layer over PGlite, a PostgreSQL server (`pg`) or
 * Aurora (RDS Data API).
 *
 * @example
 * await database.db.transaction().execute(async (tx) => { await tx.insertInto('models')… });
 */
export interface Database {
  readonly db: Kysely<DB>;
  readonly kind: 'pglite' | 'pg' | 'data-api';
  close(): Promise<void>;
}

/** Where a query runs: the database itself or an open transaction on it. */
export type Executor = Kysely<DB> | Transaction<DB>;

// ---------------------------------------------------------------- Object store

export interface PutOptions {
  /** Object-Lock-style retention: until then the version can be neither overwritten nor deleted. */
  retainUntil?: Date;
  contentType?: string;
  /** Refuse the write when the streamed bytes do not have this size (bytes). */
  expectedSize?: number;
  /**
   * Mark the version as a pending upload: bytes no registration has claimed yet, which expire
   * (S3: the `aegis-upload=pending` tag a lifecycle rule expires). Upload URLs always set it.
   */
  pendingUpload?: boolean;
}

export interface ObjectInfo {
  key: string;
  versionId: string;
  size: number;
  /** hex sha256 of the bytes, when the store knows it */
  sha256?: string;
  retainUntil?: Date;
  lastModified: Date;
  /** true while the version is a pending upload (see {@link PutOptions.pendingUpload}) */
  pendingUpload?: boolean;
}

/**
 * A versioned object store with Object-Lock-style retention. Keys are `/`-separated paths
 * of safe segments. Bodies stream: no adapter holds a whole object in memory.
 *
 * @example
 * const { versionId } = await store.put('artifacts/m/1/artifact', createReadStream(file));
 * const body = await store.get('artifacts/m/1/artifact', { versionId });
 */
export interface ObjectStore {
  /** Writes a new version; under retention the key cannot be overwritten (RETENTION_LOCKED). */
  put(key: string, body: Readable | Uint8Array | string, opts?: PutOptions): Promise<ObjectInfo>;
  /** Streams a version (the latest when no versionId); OBJECT_NOT_FOUND when absent. */
  get(key: string, opts?: { versionId?: string }): Promise<Readable>;
  /** Metadata of a version, or undefined when absent. */
  head(key: string, opts?: { versionId?: string }): Promise<ObjectInfo | undefined>;
  /** Deletes a version; RETENTION_LOCKED while it is under retention. */
  delete(key: string, opts?: { versionId?: string }): Promise<void>;
  /** Sets (or extends) retention on one version; retention can never be shortened. */
  retain(key: string, versionId: string, until: Date): Promise<void>;
  /** Latest versions of the keys under a prefix, in key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Clears the pending-upload mark of one version (registration claims the bytes); allowed under retention. */
  clearPendingUpload(key: string, versionId: string): Promise<void>;
  /**
   * A URL a client can PUT the bytes of `key` to, without going through the API, sending
   * `headers` with it. What it writes is a pending upload.
   */
  createUploadUrl(
    key: string,
    opts: { expiresInSeconds: number; contentLength?: number },
  ): Promise<{ url: string; headers: Record<string, string> }>;
  /**
   * The bucket's Object Lock configuration, for the production startup checks (S3 only:
   * a store without it cannot show its retention is enforced by the storage itself).
   */
  describeObjectLock?(): Promise<ObjectLockStatus>;
}

/** A bucket's Object Lock: on or off, and the retention new versions get by default. */
export interface ObjectLockStatus {
  enabled: boolean;
  defaultRetention?: { mode: string; days?: number; years?: number };
}

// ---------------------------------------------------------------- Signing

/**
 * Signs small messages with one key. Ed25519 (file key or KMS `ED25519_SHA_512`, RAW) or
 * ECDSA P-256 (KMS `ECDSA_SHA_256`, RAW, DER signature). Private keys never leave it.
 */
export interface Signer {
  readonly kid: string;
  readonly alg: SignatureAlg;
  sign(message: Uint8Array): Promise<Buffer>;
}

/**
 * Where signing keys live (key files in the data folder, or KMS). The key ring itself —
 * public keys and validity windows — is kept in the database by the key service.
 */
export interface KeyProvider {
  readonly backend: 'file' | 'kms';
  /**
   * Makes a new key (file backend) or adopts an existing one (`kmsKeyId`, KMS backend) and
   * returns its public description; `keyRef` is what {@link signer} needs to find it again.
   */
  create(
    purpose: KeyPurpose,
    kid: string,
    opts?: { kmsKeyId?: string },
  ): Promise<{ record: Omit<KeyRecord, 'notBefore' | 'notAfter' | 'revokedAt'>; keyRef: string }>;
  signer(kid: string, alg: SignatureAlg, keyRef: string): Signer;
  /** A KMS key's spec, usage and state, for the production startup checks (KMS only). */
  describeKey?(kmsKeyId: string): Promise<{ keySpec: string | undefined; keyUsage: string | undefined; keyState: string | undefined }>;
}

// ---------------------------------------------------------------- Clock

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

// ---------------------------------------------------------------- Workflows

export type MachineName = 'promotion' | 'rollback';

/**
 * Runs the rollout state machines: Step Functions on AWS, the same ASL in-process locally.
 * The execution name is the promotion id, so starting twice never runs twice.
 *
 * @example
 * await workflows.start('promotion', promotionId, { promotionId });
 */
export interface Workflows {
  start(machine: MachineName, name: string, input: { promotionId: string }): Promise<{ executionId: string; started: boolean }>;
}

// ---------------------------------------------------------------- Canary judging

export interface CanaryWindow {
  promotionId: string;
  modelName: string;
  env: string;
  stableArtifactId: string | null;
  canaryArtifactId: string;
  /** the stage so far, `[from, to)`: from the stage's start (after the route settled) to now */
  from: Date;
  to: Date;
  /** when the canary's first stage began: quality is judged over `[canaryFrom, to)`, as labels arrive late */
  canaryFrom: Date;
  /** the canary's share of requests in this stage, in percent (for the sample-ratio check) */
  percent: number;
  rollbackThreshold: number;
  /** requests each arm needs before the window can pass or fail */
  minRequests: number;
}

/** A judged window: the verdict, why, and the numbers it rests on (stored, audited and shown). */
export interface WindowVerdict {
  verdict: 'pass' | 'fail' | 'inconclusive';
  /** `pass`, `insufficient-traffic`, or the check that failed (`errorRate`, `latencyP95`, `sampleRatio`, …) */
  reason: string;
  detail: string;
  /** requests per arm in the window: the completed-canary gate reads them back from the audit chain */
  requests: { stable: number; canary: number };
  errors?: { stable: number; canary: number };
  /** the judge's full numbers (percentiles, statistics, p-values, guardrails) */
  judgement?: CanaryJudgement;
}

/** Judges a canary window: the statistics over per-variant metrics, or a scripted verdict in tests. */
export interface RolloutJudge {
  evaluate(window: CanaryWindow): Promise<WindowVerdict>;
}

// ---------------------------------------------------------------- Schedules

/**
 * The jobs that run on a schedule. Each is one EventBridge rule on AWS and one timer locally,
 * but `rollout-takeover`: local only (a server resumes rollouts whose runner died; on AWS the
 * Step Functions execution is durable).
 */
export type ScheduledJobName =
  'audit-archive' | 'audit-checkpoint' | 'pending-promotion-expiry' | 'pending-upload-expiry' | 'rollout-takeover';

export interface ScheduledJob {
  name: ScheduledJobName;
  /** how often the in-process scheduler runs it (on AWS the rule's rate in the stack decides) */
  everyMs: number;
  /** one run; must be safe to repeat and to overlap with a run in another process */
  run(): Promise<unknown>;
}

/**
 * Runs jobs on a schedule: timers in this process locally, EventBridge rules on AWS (the rule
 * invokes a function whose handler calls {@link run}). Every periodic job goes through it.
 *
 * @example
 * scheduler.register({ name: 'audit-archive', everyMs: 30_000, run: () => auditTrail.archive() });
 * scheduler.start(); // local server only: arms the timers
 * await scheduler.run('audit-archive'); // the EventBridge target, or a test
 * await scheduler.stop(); // disarms and waits for runs in flight
 */
export interface Scheduler {
  register(job: ScheduledJob): void;
  /** Arms the schedules (in-process timers; a no-op where something outside drives them). */
  start(): void;
  /** Runs one registered job now and returns its result; a run already in flight is joined, not repeated. */
  run(name: ScheduledJobName): Promise<unknown>;
  /** Disarms the schedules and waits for the runs in flight. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------- Metrics

/** Every series the services record, with its kind and labels (sinks define help and buckets). */
export const SERVICE_METRICS = {
  aegis_registry_registrations_total: { kind: 'counter', labels: ['outcome'] },
  ai_infra_artifact_registration_latency_seconds: { kind: 'histogram', labels: [] },
  ai_infra_promotion_latency_seconds: { kind: 'histogram', labels: ['env', 'outcome'] },
  aegis_registry_promotions_total: { kind: 'counter', labels: ['env', 'outcome'] },
  ai_infra_canary_rollbacks_total: { kind: 'counter', labels: ['env'] },
} as const satisfies Record<string, { kind: 'counter' | 'histogram'; labels: readonly string[] }>;

export type ServiceMetricName = keyof typeof SERVICE_METRICS;

/** A destination for the measurements: Prometheus locally, CloudWatch (EMF) in Lambda. */
export interface MetricsSink {
  /** `unit` is `Count` (counters) or `Seconds` (histograms) */
  emit(name: ServiceMetricName, unit: 'Count' | 'Seconds', value: number, dimensions: Record<string, string>): void;
}
