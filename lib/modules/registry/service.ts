import { AegisError } from '../../kernel/errors.js';
import { LIMITS, type ManifestInput } from '../../kernel/manifest.js';
import type { ModelRef, Principal, Scope } from '../../kernel/identity.js';
import type { Database, Executor } from '../../platform/ports/database.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { ServiceMetrics } from '../../platform/ports/metrics.js';
import type { ArtifactRecord, Page, RegistrationResult } from './domain.js';
import { Registrar, type RegistrationOptions } from './registration.js';
import type { PendingRegistration } from './registration-types.js';
import { AsyncRegistrations, type RegisterStepEvent, type RegistrationStatus } from './async-registration.js';
import type { Workflows } from '../../platform/ports/workflows.js';
import type { RegistryDeps } from './deps.js';
import {
  findArtifact,
  findArtifactModelRef,
  findDatasetLinks,
  findModelRef,
  listArtifactVersions,
  modelExists,
  setModelTeam,
} from './store.js';
import { artifactVersions, listModels } from './store-listing.js';
import { issueDownload, type DownloadTicket } from './downloads.js';
import { PendingUploads, type PartRequest, type UploadExpiryResult, type UploadOptions } from './uploads.js';

export type { ArtifactRecord, Page, RegistrationResult } from './domain.js';
export type { UploadExpiryResult } from './uploads.js';
export type { DownloadTicket } from './downloads.js';
export type { PendingRegistration } from './registration-types.js';
export type { RegisterStepEvent, RegistrationStatus } from './async-registration.js';

/** How long a download URL works unless configured. */
const DEFAULT_DOWNLOAD_TTL_SECONDS = 300;

/** The registry's settings: pending uploads' lifetimes, the retention of what is registered, download URLs' lifetime. */
export type RegistryOptions = UploadOptions &
  RegistrationOptions & {
    downloadTtlSeconds?: number;
    /** uploads larger than this register asynchronously through the register route (`AEGIS_REGISTER_ASYNC_BYTES`) */
    registerAsyncBytes?: number;
    /** the `register` state machine (built after this service: its step calls back into it) */
    registerWorkflows?: () => Workflows;
  };

const noRegisterWorkflows = (): Workflows => ({
  start: () => Promise.reject(new Error('this process has no register state machine (AEGIS_REGISTER_STATE_MACHINE_ARN)')),
});

/** Registration, lookup and listing of model artifacts. */
export class RegistryService {
  readonly #uploads: PendingUploads;
  readonly #registrar: Registrar;
  readonly #async: AsyncRegistrations;
  readonly #metrics: ServiceMetrics | undefined;
  readonly #downloads: Parameters<typeof issueDownload>[0];

  private readonly database: Database;
  private readonly audit: AuditLog;

  constructor(d: RegistryDeps, opts: RegistryOptions & { metrics?: ServiceMetrics }) {
    const { database, store, keys, datasets, audit, clock } = d;
    this.database = database;
    this.audit = audit;
    this.#downloads = { database, store, audit, clock, ttlSeconds: opts.downloadTtlSeconds ?? DEFAULT_DOWNLOAD_TTL_SECONDS };
    this.#metrics = opts.metrics;
    this.#uploads = new PendingUploads(database, store, clock, opts);
    this.#registrar = new Registrar({ database, store, keys, datasets, audit, clock, opts });
    this.#async = new AsyncRegistrations({
      database,
      clock,
      registrar: this.#registrar,
      workflows: opts.registerWorkflows ?? noRegisterWorkflows,
      metrics: opts.metrics,
      ...(opts.registerAsyncBytes !== undefined && { thresholdBytes: opts.registerAsyncBytes }),
    });
  }

  /** Reserves a storage key for an artifact and returns where to PUT its bytes (or its parts). See {@link PendingUploads.create}. */
  async createUpload(
    input: { modelName: string; size: number; sha256?: string | undefined; multipart?: boolean | undefined },
    principal: Principal,
  ) {
    return this.#uploads.create(input, principal);
  }

  /** Part URLs of a multipart upload and the parts already received. See {@link PendingUploads.parts}. */
  async uploadParts(uploadId: string, parts: readonly PartRequest[], principal: Principal) {
    return this.#uploads.parts(uploadId, parts, principal);
  }

  /**
   * Expires uploads never registered within their TTL; the scheduler runs it
   * (`pending-upload-expiry`). See {@link PendingUploads.expire}.
   */
  async expirePendingUploads(): Promise<UploadExpiryResult> {
    return this.#uploads.expire();
  }

  /**
   * Registers an uploaded artifact: checks its size and sha256 (the store's, or by reading the
   * bytes), signs the manifest, stores manifest and signature beside the artifact (so the index
   * can be rebuilt from storage), then writes the record in one transaction. Always synchronous.
   */
  async register(
    input: { uploadId: string; manifest: ManifestInput; team?: string | undefined },
    principal: Principal,
    idempotencyKey?: string,
  ): Promise<RegistrationResult> {
    return (await this.submit(input, principal, idempotencyKey, false)) as RegistrationResult;
  }

  /**
   * Registers an artifact whose bytes came in the request (`POST /v1/registry/artifacts`, at most
   * {@link LIMITS.inlineArtifactBytes}): what {@link register} does after an upload, in one call.
   * The bytes are checked in memory against the manifest before anything is written, then written
   * retained beside the sidecars as the registration commits; a replay writes nothing. Always synchronous.
   */
  async registerInline(
    input: { manifest: ManifestInput; team?: string | undefined; bytes: Uint8Array },
    principal: Principal,
    idempotencyKey?: string,
  ): Promise<RegistrationResult> {
    if (input.bytes.length > LIMITS.inlineArtifactBytes)
      throw new AegisError(
        'PAYLOAD_TOO_LARGE',
        `an artifact registered in one request is at most ${LIMITS.inlineArtifactBytes} bytes; upload larger ones (POST /v1/registry/uploads)`,
        { field: 'artifact' },
      );
    const started = performance.now();
    const result = await this.#registrar.registerInline(input, principal, idempotencyKey, (uploadId, sha256) =>
      this.#uploads.receive({ uploadId, modelName: input.manifest.modelName, bytes: input.bytes, sha256 }, principal),
    );
    this.#recordRegistration(result, started);
    return result;
  }

  /**
   * The register route: {@link register}, except that an upload larger than
   * `registerAsyncBytes` is answered with a pending registration once everything that needs no
   * byte is checked (its `register` state machine hashes and commits it), and a replay of a
   * pending one answers it again.
   */
  async submit(
    input: { uploadId: string; manifest: ManifestInput; team?: string | undefined },
    principal: Principal,
    idempotencyKey?: string,
    async = true,
  ): Promise<RegistrationResult | PendingRegistration> {
    const started = performance.now();
    const result = await this.#registrar.register(input, principal, idempotencyKey, async ? this.#async : undefined);
    if ('replayed' in result) this.#recordRegistration(result, started);
    return result;
  }

  /** A registration's outcome and duration (since `started`, a `performance.now()`), in the service's metrics. */
  #recordRegistration(result: RegistrationResult, started: number): void {
    this.#metrics?.registration(result.replayed ? 'replayed' : 'created', (performance.now() - started) / 1000);
  }

  /** How far an asynchronous registration got (its creator or a global admin; 404 for others). */
  async registrationStatus(registrationId: string, principal: Principal): Promise<RegistrationStatus> {
    return this.#async.status(registrationId, principal);
  }

  /** Starts the executions of the registrations still verifying (the local server's start). See {@link AsyncRegistrations.resumeVerifying}. */
  async resumeRegistrations(): Promise<string[]> {
    return this.#async.resumeVerifying();
  }

  /** A Task state of the `register` state machine (the register-step function on AWS). */
  async registrationStep(event: RegisterStepEvent): Promise<unknown> {
    return this.#async.step(event);
  }

  /**
   * A short-lived URL for exactly the registered bytes of `artifact` (pinned to their storage
   * version), audited (`artifact.download_issued`) with who asked. The caller checks quarantine first.
   */
  async createDownload(artifact: ArtifactRecord, principal: Principal): Promise<DownloadTicket> {
    return issueDownload(this.#downloads, artifact, principal);
  }

  /** An artifact by id (as seen by `db`, e.g. a transaction). */
  async get(artifactId: string, db: Executor = this.database.db): Promise<ArtifactRecord | undefined> {
    return findArtifact(db, { artifactId });
  }

  /** One version of a model; with a scope, only of a model within it (outside it, missing). */
  async getVersion(modelName: string, version: number, scope: Scope = 'global'): Promise<ArtifactRecord | undefined> {
    return findArtifact(this.database.db, { modelName, version }, scope);
  }

  /** An artifact by id, of a model within `scope` only (outside it, missing): one statement. */
  async getInScope(artifactId: string, scope: Scope): Promise<ArtifactRecord | undefined> {
    return findArtifact(this.database.db, { artifactId }, scope);
  }

  /** The `id@version` of the datasets the artifact was trained on, each once, ordered by id and version. */
  async datasetLinks(artifactId: string): Promise<{ id: string; version: string }[]> {
    return findDatasetLinks(this.database.db, artifactId);
  }

  /**
   * The model (name and team) an artifact or a model name stands for, if it exists: what the
   * HTTP handler checks a caller's scope against.
   */
  async modelRef(by: { artifactId: string } | { model: string }): Promise<ModelRef | undefined> {
    return 'artifactId' in by ? findArtifactModelRef(this.database.db, by.artifactId) : findModelRef(this.database.db, by.model);
  }

  /** Models by name, those of `scope` only (global: all); with `contains`, those whose name contains it (any case). */
  async listModels(opts: {
    limit: number;
    cursor?: string;
    scope: Scope;
    contains?: string;
  }): Promise<Page<{ name: string; latestVersion: number; team: string | null; createdAt: string }>> {
    const contains = opts.contains?.toLowerCase();
    const rows = await listModels(this.database.db, { limit: opts.limit + 1, after: opts.cursor, scope: opts.scope, contains });
    const items = rows.slice(0, opts.limit);
    return { items, nextCursor: rows.length > opts.limit ? items[items.length - 1]!.name : null };
  }

  /** The version of each of these artifacts, by artifact id (those that exist); one query. */
  async versionsOf(artifactIds: readonly string[]): Promise<Map<string, number>> {
    return artifactVersions(this.database.db, artifactIds);
  }

  /** Versions newest first; the cursor is the last version of the previous page. */
  async listVersions(modelName: string, opts: { limit: number; cursor?: number }): Promise<Page<ArtifactRecord>> {
    if (!(await modelExists(this.database.db, modelName))) throw new AegisError('NOT_FOUND', `no model ${modelName}`, { field: 'model' });
    const rows = await listArtifactVersions(this.database.db, { modelName, limit: opts.limit + 1, before: opts.cursor });
    const items = rows.slice(0, opts.limit);
    return { items, nextCursor: rows.length > opts.limit ? String(items[items.length - 1]!.version) : null };
  }

  /** Sets (or, with null, clears) a model's team label, audited; an admin's change, not a registration's. */
  async setTeam(
    model: string,
    team: string | null,
    principal: Principal,
  ): Promise<{ name: string; team: string | null; previous: string | null }> {
    return this.database.db.transaction().execute(async (tx) => {
      const changed = await setModelTeam(tx, model, team);
      if (!changed) throw new AegisError('NOT_FOUND', `no model ${model}`, { field: 'model' });
      await this.audit.append(tx, {
        type: 'model.team.set',
        actor: principal.id,
        subject: `model:${model}`,
        payload: { model, team, previous: changed.previous },
      });
      return { name: model, team, previous: changed.previous };
    });
  }
}
