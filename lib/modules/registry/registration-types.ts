/** The shapes a registration passes between its steps, synchronous or asynchronous. */
import type { Transaction } from 'kysely';
import { canonicalSha256 } from '../../kernel/canonical.js';
import type { ManifestInput } from '../../kernel/manifest.js';
import type { Principal } from '../../kernel/identity.js';
import type { DB } from '../../platform/sql/schema.js';
import type { ObjectInfo } from '../../platform/ports/object-store.js';
import type { Upload } from './domain.js';
import type { NewUpload } from './store-uploads.js';

/** One registration request, as the steps of {@link Registrar.register} see it. */
export interface RegistrationRequest {
  uploadId: string;
  manifest: ManifestInput;
  /** the model's team label, set when this registration creates the model */
  team: string | undefined;
  principal: Principal;
  idempotencyKey: string | undefined;
  /** the request's identity: the sha256 of the submitted manifest */
  requestSha256: string;
}

/** Bytes that came in the request: written by `write` (once, however often it is called), their upload's row `newUpload`. */
export interface ReceivedBytes {
  /** stores the bytes at `newUpload.storageKey`, retained until `retainUntil` and never pending (claimed as they are written) */
  write(retainUntil: Date): Promise<ObjectInfo>;
  /** inserted, registered, by the registration's statement */
  newUpload: NewUpload;
}

/**
 * The bytes as checked against the manifest: stored already (`versionId`, an upload the
 * registration claims), or still to be written ({@link ReceivedBytes}: beside the sidecars).
 */
export type UploadedBytes = { size: number; sha256: string } & ({ upload: Upload; versionId: string } | ReceivedBytes);

/** A registration answered 202: its bytes are hashed and its record committed by the `register` state machine. */
export interface PendingRegistration {
  registrationId: string;
  status: 'verifying';
  totalBytes: number;
}

/** The upload found registrable, with its object's size checked against the manifest (no byte read yet). */
export interface LocatedUpload {
  upload: Upload;
  info: ObjectInfo;
}

/**
 * How a registration over the threshold goes asynchronously (async-registration.ts): a
 * `verifying` registration of the same caller and request is answered again (and its execution
 * started again, a no-op while it runs), or a new one is recorded and its execution started.
 */
export interface AsyncGate {
  thresholdBytes: number;
  pending(request: RegistrationRequest): Promise<PendingRegistration | undefined>;
  begin(request: RegistrationRequest, located: LocatedUpload): Promise<PendingRegistration>;
}

/** Done in the commit's transaction after its rows and events (an asynchronous registration marks itself registered). */
export type CommitHook = (tx: Transaction<DB>, artifactId: string, version: number) => Promise<void>;

/** A request as the registration steps see it: its identity is the sha256 of the submitted manifest. */
export function registrationRequest(
  input: { uploadId: string; manifest: ManifestInput; team?: string | undefined },
  principal: Principal,
  idempotencyKey: string | undefined,
): RegistrationRequest {
  return {
    uploadId: input.uploadId,
    manifest: input.manifest,
    team: input.team,
    principal,
    idempotencyKey,
    requestSha256: canonicalSha256(input.manifest),
  };
}
