import type { Logger } from '@aws-lambda-powertools/logger';
import type { Config } from './config.js';
import type { Authenticator } from './http/auth.js';
import type { Clock, Database, KeyProvider, ObjectStore, Scheduler, Workflows } from './ports.js';
import type { PromotionService } from './services/promotions.js';
import type { RolloutService } from './services/rollout.js';
import type { AuditLog } from './services/audit.js';
import type { AuditTrail } from './services/audit-trail.js';
import type { DatasetService } from './services/datasets.js';
import type { KeyService } from './services/keys.js';
import type { LineageService } from './services/lineage.js';
import type { RegistryService } from './services/registry.js';
import type { TokenService } from './services/tokens.js';
import type { VerificationService } from './services/verification.js';

/** Everything a handler needs, built once per process by the composition root. */
export interface Container {
  config: Config;
  mode: 'local' | 'lambda';
  database: Database;
  store: ObjectStore;
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
  rollout: RolloutService;
  workflows: Workflows;
  /** the scheduled jobs (audit archive, pending promotion and upload expiry); armed by the local server only */
  scheduler: Scheduler;
  auth: Authenticator;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  clock: Clock;
  close(): Promise<void>;
}
