/**
 * Asynchronous registration of large artifacts (issue 25): a register request whose upload is
 * larger than the threshold is recorded (`registrations`) once everything that needs no byte has
 * been checked, and answered 202; the `register` state machine hashes the object (reporting its
 * progress) and commits the record through the synchronous path's own commit, which marks the
 * registration registered in its transaction. A refusal (a sha256 mismatch, an expired upload)
 * marks it failed with its error and registers nothing.
 */
import { randomUUID } from 'node:crypto';
import { canonicalJson } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';
import type { ManifestInput } from '../../kernel/manifest.js';
import type { Principal } from '../../kernel/identity.js';
import { isUniqueViolation } from '../../platform/sql/errors.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { Workflows } from '../../platform/ports/workflows.js';
import type { ServiceMetrics } from '../../platform/ports/metrics.js';
import { registrationResult, type RegistrationResult } from './domain.js';
import type { Registrar } from './registration.js';
import type { AsyncGate, LocatedUpload, PendingRegistration, RegistrationRequest } from './registration-types.js';
import { findArtifact } from './store.js';
import { findUpload } from './store-uploads.js';
import {
  finishAsyncRegistration,
  findAsyncRegistration,
  findVerifying,
  insertAsyncRegistration,
  listVerifying,
  setBytesHashed,
  type AsyncRegistrationRow,
  type AsyncStatus,
} from './store-async.js';

/** Uploads larger than this register asynchronously unless configured (`AEGIS_REGISTER_ASYNC_BYTES`): 2 GiB. */
export const DEFAULT_REGISTER_ASYNC_BYTES = 2 * 1024 ** 3;
/** How often the hashing records its progress: every 64 MiB (a smaller object: every 64th of it, at least 1 MiB). */
const progressEvery = (total: number) => Math.min(64 * 1024 * 1024, Math.max(1024 * 1024, Math.ceil(total / 64)));

/** What each Task state of the `register` machine runs (the register-step function on AWS). */
export type RegisterStepEvent =
  | { task: 'hash'; registrationId: string }
  | { task: 'commit'; registrationId: string; sha256: string }
  | { task: 'failed'; registrationId: string; error: { Error?: string; Cause?: string } };

/** A registration that ended before this step (a repeated execution): the machine ends quietly on it. */
export class RegistrationFinished extends Error {
  constructor(registrationId: string, status: AsyncStatus) {
    super(`registration ${registrationId} is ${status}`);
    this.name = 'Aegis.RegistrationFinished';
  }
}

/** The registration was refused (its error recorded on it): not retried, the execution fails. */
export class RegistrationRefused extends Error {
  constructor(registrationId: string, e: AegisError) {
    super(`registration ${registrationId} failed: ${e.code}: ${e.message}`);
    this.name = 'Aegis.RegistrationFailed';
  }
}

/** `GET /v1/registry/registrations/{registrationId}`: how far a registration got. */
export interface RegistrationStatus {
  registrationId: string;
  status: AsyncStatus;
  bytesHashed: number;
  totalBytes: number;
  artifactId?: string;
  version?: number;
  /** once registered: what the synchronous path answers */
  result?: RegistrationResult;
  error?: { code: string; message: string };
}

export class AsyncRegistrations implements AsyncGate {
  readonly thresholdBytes: number;

  constructor(
    private readonly d: {
      database: Database;
      clock: Clock;
      registrar: Registrar;
      /** the register machine (built after the registry: its step calls back into this) */
      workflows: () => Workflows;
      thresholdBytes?: number;
      /** counts a registration this machine commits, as the synchronous path counts its own */
      metrics?: ServiceMetrics | undefined;
    },
  ) {
    this.thresholdBytes = d.thresholdBytes ?? DEFAULT_REGISTER_ASYNC_BYTES;
  }

  async pending(request: RegistrationRequest): Promise<PendingRegistration | undefined> {
    const row = await findVerifying(this.d.database.db, request.principal.id, request.requestSha256);
    if (!row) return undefined;
    // running: a no-op; a local execution lost with its process: it runs again
    await this.#start(row.registrationId);
    return pendingOf(row);
  }

  async begin(request: RegistrationRequest, { upload, info }: LocatedUpload): Promise<PendingRegistration> {
    const registrationId = randomUUID();
    try {
      await insertAsyncRegistration(this.d.database.db, {
        registrationId,
        uploadId: upload.uploadId,
        modelName: request.manifest.modelName,
        createdBy: request.principal.id,
        principal: JSON.stringify(request.principal),
        requestSha256: request.requestSha256,
        manifest: canonicalJson(request.manifest),
        team: request.team ?? null,
        idempotencyKey: request.idempotencyKey ?? null,
        versionId: info.versionId,
        totalBytes: info.size,
        at: this.d.clock.now(),
      });
    } catch (e) {
      // a concurrent replay recorded it first
      const other = isUniqueViolation(e) ? await this.pending(request) : undefined;
      if (other) return other;
      throw e;
    }
    await this.#start(registrationId);
    return { registrationId, status: 'verifying', totalBytes: info.size };
  }

  /**
   * Starts the execution of every registration still verifying (a local server's start: its
   * executions ended with the process that ran them; one still running is left alone).
   */
  async resumeVerifying(): Promise<string[]> {
    const ids = await listVerifying(this.d.database.db, 1000);
    for (const id of ids) await this.#start(id);
    return ids;
  }

  async #start(registrationId: string): Promise<void> {
    await this.d.workflows().start('register', registrationId, { registrationId });
  }

  /** How far a registration got: only its creator or a global admin sees it (404 for anyone else). */
  async status(registrationId: string, principal: Principal): Promise<RegistrationStatus> {
    const row = await findAsyncRegistration(this.d.database.db, registrationId);
    const mayRead = row && (row.createdBy === principal.id || (principal.role === 'admin' && principal.scope === 'global'));
    if (!row || !mayRead) throw new AegisError('NOT_FOUND', `no registration ${registrationId}`, { field: 'registrationId' });
    const record = row.artifactId === null ? undefined : await findArtifact(this.d.database.db, { artifactId: row.artifactId });
    return {
      registrationId,
      status: row.status,
      bytesHashed: row.bytesHashed,
      totalBytes: row.totalBytes,
      ...(row.artifactId !== null && { artifactId: row.artifactId }),
      ...(row.version !== null && { version: row.version }),
      ...(record && { result: registrationResult(record, false) }),
      ...(row.error && { error: row.error }),
    };
  }

  /** One Task state of the register machine. */
  async step(event: RegisterStepEvent): Promise<unknown> {
    if (event.task === 'failed') return this.#recordFailure(event.registrationId, event.error);
    const row = await findAsyncRegistration(this.d.database.db, event.registrationId);
    if (!row) throw new AegisError('NOT_FOUND', `no registration ${event.registrationId}`, { field: 'registrationId' });
    if (row.status !== 'verifying') throw new RegistrationFinished(row.registrationId, row.status);
    try {
      return event.task === 'hash' ? await this.#hash(row) : await this.#commit(row, event.sha256);
    } catch (e) {
      if (!(e instanceof AegisError && e.expose)) throw e; // retried, then recorded by RecordFailure
      await this.#finish(row.registrationId, { status: 'failed', code: e.code, message: e.message });
      throw new RegistrationRefused(row.registrationId, e);
    }
  }

  /** Reads the object's bytes: their sha256 (and baseline) must be the manifest's. */
  async #hash(row: AsyncRegistrationRow): Promise<{ sha256: string }> {
    const upload = await findUpload(this.d.database.db, row.uploadId);
    if (!upload) throw new AegisError('UPLOAD_NOT_FOUND', `no upload ${row.uploadId}`, { field: 'uploadId' });
    const db = this.d.database.db;
    const report = (bytes: number) => setBytesHashed(db, row.registrationId, bytes, this.d.clock.now());
    const sha256 = await this.d.registrar.hashUploaded(requestOf(row), upload, row.versionId, {
      every: progressEvery(row.totalBytes),
      report,
    });
    await report(row.totalBytes);
    return { sha256 };
  }

  /** Commits the record as the synchronous path does, the registration marked registered in the same transaction. */
  async #commit(row: AsyncRegistrationRow, sha256: string): Promise<{ artifactId: string; version: number }> {
    const request = requestOf(row);
    const registrar = this.d.registrar;
    const context = await registrar.readContext(request);
    // registered meanwhile (the same bytes by another request, or this one's key): that is the answer
    let result: RegistrationResult | undefined = await registrar.earlierRegistration(request, context);
    if (!result) {
      const upload = context.upload;
      if (!upload) throw new AegisError('UPLOAD_NOT_FOUND', `no upload ${row.uploadId}`, { field: 'uploadId' });
      const bytes = { upload, versionId: row.versionId, size: row.totalBytes, sha256 };
      result = await registrar.commit(request, bytes, async (tx, artifactId, version) => {
        const end = { status: 'registered' as const, artifactId, version };
        if (!(await finishAsyncRegistration(tx, row.registrationId, end, this.d.clock.now())))
          throw new RegistrationFinished(row.registrationId, 'registered');
      });
      // from the request to the commit, as the synchronous path measures its own
      this.d.metrics?.registration('created', (this.d.clock.now().getTime() - Date.parse(row.createdAt)) / 1000);
    }
    await this.#finish(row.registrationId, { status: 'registered', artifactId: result.artifactId, version: result.version });
    return { artifactId: result.artifactId, version: result.version };
  }

  async #finish(registrationId: string, end: Parameters<typeof finishAsyncRegistration>[2]): Promise<void> {
    await finishAsyncRegistration(this.d.database.db, registrationId, end, this.d.clock.now());
  }

  /** The Catch of the machine: an error the retries did not get past, recorded on the registration. */
  async #recordFailure(registrationId: string, error: { Error?: string; Cause?: string }): Promise<null> {
    let message = error.Cause ?? error.Error ?? 'the registration failed';
    try {
      const cause = JSON.parse(message) as { errorMessage?: unknown };
      if (typeof cause.errorMessage === 'string') message = cause.errorMessage;
    } catch {
      // a plain message
    }
    await this.#finish(registrationId, { status: 'failed', code: 'INTERNAL', message: `${error.Error ?? 'Error'}: ${message}` });
    return null;
  }
}

const pendingOf = (row: AsyncRegistrationRow): PendingRegistration => ({
  registrationId: row.registrationId,
  status: 'verifying',
  totalBytes: row.totalBytes,
});

function requestOf(row: AsyncRegistrationRow): RegistrationRequest {
  return {
    uploadId: row.uploadId,
    manifest: JSON.parse(row.manifest) as ManifestInput,
    team: row.team ?? undefined,
    principal: JSON.parse(row.principal) as Principal,
    idempotencyKey: row.idempotencyKey ?? undefined,
    requestSha256: row.requestSha256,
  };
}
