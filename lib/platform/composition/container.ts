import type { Logger } from '@aws-lambda-powertools/logger';
import type { Config } from '../config.js';
import type { Authenticator } from '../ports/auth.js';
import type { Clock } from '../ports/clock.js';
import type { Database } from '../ports/database.js';
import type { MetricsExposition, ServiceMetrics } from '../ports/metrics.js';
import type { KeyProvider } from '../ports/signer.js';
import type { DownloadSource, ObjectStore, UploadSink } from '../ports/object-store.js';
import type { Scheduler } from '../ports/scheduler.js';
import type { Workflows } from '../ports/workflows.js';
import type { PromotionService } from '../../modules/promotion/service.js';
import type { QuarantineService } from '../../modules/quarantine/service.js';
import type { RolloutService } from '../../modules/rollout/service.js';
import type { ServingService } from '../../modules/serving/service.js';
import type { ServingTelemetry } from '../../modules/serving/telemetry.js';
import type { AuditLog } from '../audit/log.js';
import type { AuditTrail } from '../audit/trail.js';
import type { DatasetService } from '../../modules/datasets/service.js';
import type { KeyService } from '../../modules/keys/service.js';
import type { LineageService } from '../../modules/lineage/service.js';
import type { RegistryService } from '../../modules/registry/service.js';
import type { TokenService } from '../../modules/tokens/service.js';
import type { VerificationService } from '../../modules/registry/verification.js';
import type { DriftApi } from '../../modules/drift/records.js';
import type { DriftRuns } from '../../modules/drift/runs.js';
import type { EventService } from '../../modules/events/service.js';
import type { EventDispatcher } from '../../modules/events/dispatcher.js';

/** Everything a handler needs, built once per process by the composition root. */
export interface Container {
  config: Config;
  mode: 'local' | 'lambda';
  database: Database;
  store: ObjectStore;
  /** the audit archive (Object-Lock segments and head checkpoints), for the recovery tools */
  archiveStore: ObjectStore;
  /** where the local server's upload URLs write: the filesystem store; absent over S3 (presigned URLs) */
  uploadSink?: UploadSink;
  /** where the local server's download URLs read: the filesystem store; absent over S3 (presigned URLs) */
  downloadSource?: DownloadSource;
  keyProvider: KeyProvider;
  keys: KeyService;
  audit: AuditLog;
  auditTrail: AuditTrail;
  registry: RegistryService;
  datasets: DatasetService;
  lineage: LineageService;
  verification: VerificationService;
  tokens: TokenService;
  promotions: PromotionService;
  /** quarantine of compromised artifacts; `assertNotQuarantined` is what a download route calls */
  quarantines: QuarantineService;
  rollout: RolloutService;
  /** predictions by the verified artifacts the routes name; the canary judge's metrics */
  serving: ServingService;
  /** label feedback, canary status and retention of what serving records */
  servingTelemetry: ServingTelemetry;
  /** drift runs, reports and retrain suggestions (issue 21) */
  drift: DriftApi;
  /** the drift state machine's steps (the drift-step function) and the schedule (the drift-schedule job) */
  driftRuns: DriftRuns;
  /** where drift runs execute: the drift ASL in-process locally (its `settled`, tests), Step Functions on AWS */
  driftWorkflows: Workflows;
  workflows: Workflows;
  /** webhooks (and the stack's event bus): subscriptions, deliveries, dead letters, the long poll */
  events: EventService;
  /** delivers the events outbox (the event-dispatch job; a commit that enqueued deliveries wakes it) */
  eventDispatcher: EventDispatcher;
  /** the scheduled jobs (audit archive, pending promotion and upload expiry); armed by the local server only */
  scheduler: Scheduler;
  auth: Authenticator;
  /** the Prometheus text the local server serves at `/metrics`; absent in Lambda (EMF lines instead) */
  metricsExposition?: MetricsExposition;
  /** the service measurements (request statements; the services record their own) */
  metrics: ServiceMetrics;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  clock: Clock;
  close(): Promise<void>;
}
