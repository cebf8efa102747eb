import type { KeyRecord } from '../kernel/signatures.js';
import type { TrustReport } from './trust.js';
import type { KeyProvider } from '../platform/ports/signer.js';
import type { ObjectStore } from '../platform/ports/object-store.js';
import type { Database } from '../platform/ports/database.js';
import type { AuditTrail } from '../platform/audit/trail.js';
import type { Orphan, Problem } from '../modules/restore.js';

export type RecoveryErrorCode = 'TARGET_NOT_EMPTY' | 'TARGET_NOT_MIGRATED' | 'ARCHIVE_EMPTY' | 'ARCHIVE_UNVERIFIED' | 'UNTRUSTED_KEY';

/** A rebuild that cannot start or cannot trust its source; nothing was written. */
export class RecoveryError extends Error {
  override name = 'RecoveryError';
  constructor(
    readonly code: RecoveryErrorCode,
    message: string,
    /** the items that made it refuse, when there are several (e.g. promotion events that do not replay) */
    readonly problems: Problem[] = [],
  ) {
    super(message);
  }
}

/**
 * What a rebuild needs: the target database (migrated, empty) and the surviving storage. A
 * Container built without bootstrap plus its audit archive store fits.
 */
export interface RecoveryDeps {
  database: Database;
  /** the artifact store: artifacts, manifest and signature sidecars */
  store: ObjectStore;
  /** the audit archive store (Object-Lock segments and checkpoints) */
  archiveStore: ObjectStore;
  /** probes that every active key can still sign after the rebuild */
  keyProvider: KeyProvider;
  auditTrail: Pick<AuditTrail, 'readArchive'>;
}

export const PHASES = [
  'check-target',
  'read-archive',
  'verify-artifacts',
  'restore-archive',
  'scan-storage',
  'restore-storage',
  'check-signers',
] as const;
export type Phase = (typeof PHASES)[number];

export interface Progress {
  phase: Phase;
  message: string;
  done?: number;
  total?: number;
}

export interface RebuildOptions {
  /** the key ring to pin trust to (`GET /v1/keys` output kept out of band) */
  trustedKeys?: KeyRecord[];
  /** stream every artifact and compare its sha256 (otherwise the store's recorded sha256 and size) */
  verifyBytes?: boolean;
  /** kid → KMS key ARN: the audit log never held ARNs, so KMS keys need them from the operator */
  kmsKeyRefs?: Record<string, string>;
  onProgress?: (p: Progress) => void;
}

export type { Orphan, Problem, ProblemCode } from '../modules/restore.js';

export interface RestoredFromStorage {
  artifactId: string;
  modelName: string;
  version: number;
  signedAt: string;
  note: 'not in the audit archive';
  /**
   * Signed before the archive's last event: most likely a registration that crashed before
   * its commit (it may never have been visible); otherwise registered after the last archive run.
   */
  signedBeforeArchiveEnd: boolean;
}

export interface RebuildReport {
  keys: number;
  datasets: number;
  artifacts: { fromArchive: number; fromStorage: number };
  auditEvents: number;
  /** the last archived seq; the chain continues after it */
  archivedThrough: number;
  trust: TrustReport;
  restoredFromStorage: RestoredFromStorage[];
  orphans: Orphan[];
  /** keys of uploads awaiting registration (still marked pending in the store): not restored, not orphans; they expire */
  pendingUploads: string[];
  problems: Problem[];
  /** restored, with a known gap (revoked signer, reconstructed dataset, KMS key ARN unknown, …) */
  warnings: string[];
  /** what a rebuild never restores, whatever the input */
  notRestored: string[];
  durationsMs: Partial<Record<Phase, number>>;
}

export const NOT_RESTORED = [
  'api tokens (only their sha256 was stored; create new ones: aegis tokens create)',
  'pending uploads (the uploads table): their bytes stay marked pending in the store and are listed apart; they expire on schedule (upload again to register)',
  'idempotency keys (a retried registration still replays by model and sha256)',
  'KMS key ARNs (not in the audit log; pass --kms-key-ref KID=ARN)',
  'created_by of artifacts restored from storage (recorded as aegis-recovery)',
  'the rollout execution trace (promotion_steps) exactly: rebuilt as one row per promotion.step / applied / rolled_back / failed event (state from its action, entered = finished = the event time, input {action}, output = the event payload); steps that wrote no event (resumed or retried steps, a failing step and its error) and the real step timings and outputs are lost',
  'rollout leases (rollout_leases: which runner drives a rollout, runner coordination rather than a fact, deliberately not in the audit log): a rebuilt registry has none, so the first runner to resume a rolling-out promotion takes it with token 1; rebuilt trace rows name no runner or lease token',
  'the exact updated_at of routes (set to the time of the event that changed the route, a few ms after the original)',
  'event deliveries (delivery state is not part of the chain): only events appended after the rebuild are delivered; earlier ones are not sent again',
  "webhook secrets (never chained: set new ones with aegis webhooks secret; until then a restored webhook's deliveries wait)",
] as const;
