import { randomUUID } from 'node:crypto';
import { canonicalJson, canonicalSha256 } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';
import { assertManifestSize, LIMITS, manifestSha256, TrainingManifest, type ManifestInput } from '../../kernel/manifest.js';
import { manifestStatement, statementBytes, type SignatureRecord, type SignatureAlg } from '../../kernel/signatures.js';
import { isUniqueViolation } from '../../platform/sql/errors.js';
import { toIso } from '../../platform/sql/schema.js';
import { hashStream } from '../../kernel/hashing.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { ObjectStore } from '../../platform/ports/object-store.js';
import type { Principal } from '../../kernel/identity.js';
import type { AuditLog } from '../../platform/audit/log.js';
import { record } from '../../platform/metrics.js';
import type { DatasetService } from '../datasets/service.js';
import type { KeyService } from '../keys/service.js';

export interface ArtifactRecord {
  artifactId: string;
  modelName: string;
  version: number;
  sha256: string;
  size: number;
  storage: { key: string; versionId: string; manifestKey: string; signatureKey: string };
  manifest: TrainingManifest;
  manifestSha256: string;
  signature: SignatureRecord;
  createdBy: string;
  createdAt: string;
}

export interface RegistrationResult {
  artifactId: string;
  modelName: string;
  version: number;
  sha256: string;
  manifestSignatureId: string;
  signerId: string;
  /** true when this repeated an earlier registration and returned its result */
  replayed: boolean;
}

export interface RegistryOptions {
  /** Object-Lock retention applied to artifacts, manifests and signatures. */
  retentionDays: number;
  /** how long an upload URL accepts bytes */
  uploadTtlSeconds: number;
  /**
   * How long after its creation an upload may still be registered; then the expiry job
   * removes its bytes and its row. At least {@link uploadTtlSeconds}. @default 86400
   */
  pendingUploadTtlSeconds?: number;
  /**
   * Who removes an expired upload's bytes: this service (`delete`, locally), or the bucket's
   * lifecycle rule on the pending tag (`lifecycle`, on AWS, where no function may delete objects).
   * @default 'delete'
   */
  pendingUploadBytes?: 'delete' | 'lifecycle';
}

export interface UploadExpiryResult {
  /** upload ids expired in this run (bytes removed, row deleted) */
  expired: string[];
  /** object versions deleted */
  versionsRemoved: number;
  /** uploads whose bytes a registration attempt had claimed (retained): left in storage, where parity reports them */
  kept: { uploadId: string; key: string; reason: string }[];
}

export const DEFAULT_PENDING_UPLOAD_TTL_SECONDS = 86_400;
const EXPIRY_BATCH = 500;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A manifest may name one dataset twice (e.g. train and eval splits of one version); link it once. */
function uniqueRefs(refs: readonly { id: string; version: string }[]) {
  const seen = new Map<string, { id: string; version: string }>();
  for (const r of refs) seen.set(`${r.id}@${r.version}`, r);
  return [...seen.values()];
}

const artifactPrefix = (model: string, uploadId: string) => `artifacts/${model}/${uploadId}`;

/** Registration, lookup and listing of model artifacts. */
export class RegistryService {
  constructor(
    private readonly database: Database,
    private readonly store: ObjectStore,
    private readonly keys: KeyService,
    private readonly datasets: DatasetService,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly opts: RegistryOptions,
  ) {}

  /** Reserves a storage key for an artifact and returns where to PUT its bytes. */
  async createUpload(input: { modelName: string; size: number }, principal: Principal) {
    if (input.size > LIMITS.artifactBytes)
      throw new AegisError('PAYLOAD_TOO_LARGE', `artifacts are limited to ${LIMITS.artifactBytes} bytes`, { field: 'size' });
    const uploadId = randomUUID();
    const key = `${artifactPrefix(input.modelName, uploadId)}/artifact`;
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.opts.uploadTtlSeconds * 1000);
    const target = await this.store.createUploadUrl(key, { expiresInSeconds: this.opts.uploadTtlSeconds, contentLength: input.size });
    await this.database.db
      .insertInto('uploads')
      .values({
        upload_id: uploadId,
        model_name: input.modelName,
        storage_key: key,
        created_by: principal.id,
        created_at: now,
        expires_at: expiresAt,
        max_size: input.size,
      })
      .execute();
    return { uploadId, method: 'PUT' as const, url: target.url, headers: target.headers, expiresAt: expiresAt.toISOString() };
  }

  /**
   * Registers an uploaded artifact: checks its size and streams it to compute the sha256,
   * signs the manifest, stores manifest and signature beside the artifact (so the index
   * can be rebuilt from storage), then writes the record in one transaction.
   */
  async register(
    input: { uploadId: string; manifest: ManifestInput },
    principal: Principal,
    idempotencyKey?: string,
  ): Promise<RegistrationResult> {
    const started = performance.now();
    const result = await this.#register(input, principal, idempotencyKey);
    record.registration(result.replayed ? 'replayed' : 'created', (performance.now() - started) / 1000);
    return result;
  }

  async #register(
    input: { uploadId: string; manifest: ManifestInput },
    principal: Principal,
    idempotencyKey?: string,
  ): Promise<RegistrationResult> {
    // The manifest is the request's identity; the uploadId is transport, so a CLI retry
    // that uploads the bytes again under the same key still replays.
    assertManifestSize(input.manifest);
    const requestSha256 = canonicalSha256(input.manifest);
    // An upload belongs to its creator: nobody else registers it, not even as a replay
    // (the record would name the wrong author, and the creator's registration would replay it).
    const upload = await this.database.db.selectFrom('uploads').selectAll().where('upload_id', '=', input.uploadId).executeTakeFirst();
    if (upload && upload.created_by !== principal.id) {
      throw new AegisError('FORBIDDEN', `upload ${input.uploadId} was created by another principal; register your own upload`, {
        field: 'uploadId',
      });
    }
    if (idempotencyKey) {
      const prior = await this.database.db
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('principal', '=', principal.id)
        .where('idempotency_key', '=', idempotencyKey)
        .executeTakeFirst();
      if (prior) {
        if (prior.request_sha256 !== requestSha256) {
          throw new AegisError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request body', {
            field: 'Idempotency-Key',
          });
        }
        return this.#result((await this.get(prior.artifact_id))!, true);
      }
    }
    const m = input.manifest;
    const existing = await this.database.db
      .selectFrom('artifacts')
      .select('artifact_id')
      .where('model_name', '=', m.modelName)
      .where('sha256', '=', m.artifactSha256)
      .executeTakeFirst();
    if (existing) return this.#replayOrRefuse((await this.get(existing.artifact_id))!, m);

    // Cheap checks first: a manifest naming unknown or contradicting datasets costs no hashing.
    await this.datasets.checkRefs(m.datasetRefs);

    if (!upload) throw new AegisError('UPLOAD_NOT_FOUND', `no upload ${input.uploadId}`, { field: 'uploadId' });
    const pendingUntil = this.#pendingUntil(upload.created_at);
    if (upload.expired_at !== null || this.clock.now() >= pendingUntil) {
      throw new AegisError(
        'UPLOAD_EXPIRED',
        `upload ${input.uploadId} expired at ${pendingUntil.toISOString()} without being registered; upload the bytes again`,
        { field: 'uploadId' },
      );
    }
    if (upload.model_name !== m.modelName) {
      throw new AegisError('VALIDATION_FAILED', `upload ${input.uploadId} was created for model ${upload.model_name}`, {
        field: 'manifest.modelName',
      });
    }
    const info = await this.store.head(upload.storage_key);
    if (!info) throw new AegisError('UPLOAD_NOT_FOUND', `nothing was uploaded for ${input.uploadId}`, { field: 'uploadId' });
    if (info.size !== m.artifactSize) {
      throw new AegisError('SIZE_MISMATCH', `uploaded ${info.size} bytes but the manifest says ${m.artifactSize}`, {
        field: 'manifest.artifactSize',
      });
    }
    const { sha256 } = await hashStream(await this.store.get(upload.storage_key, { versionId: info.versionId }));
    if (sha256 !== m.artifactSha256) {
      throw new AegisError('SHA256_MISMATCH', `uploaded bytes have sha256 ${sha256} but the manifest says ${m.artifactSha256}`, {
        field: 'manifest.artifactSha256',
        details: { expected: m.artifactSha256, actual: sha256 },
      });
    }
    const artifactId = m.artifactId ?? randomUUID();
    const manifest = TrainingManifest.parse({ ...m, artifactId });
    const signer = await this.keys.activeSigner('manifest');
    const now = this.clock.now();
    const sigBase = { manifestSignatureId: randomUUID(), signerId: signer.kid, ts: now.toISOString() };
    const signatureBytes = await signer.sign(statementBytes(manifestStatement(manifest, sigBase)));
    const signature: SignatureRecord = { ...sigBase, alg: signer.alg, signature: signatureBytes.toString('base64') };

    const prefix = artifactPrefix(m.modelName, input.uploadId);
    const retainUntil = new Date(now.getTime() + this.opts.retentionDays * 86_400_000);
    // Named by the signature id: a retry after a crash writes new sidecars instead of
    // colliding with retained ones; the crashed attempt's become orphans parity reports.
    const put = (name: string, value: unknown) =>
      this.store.put(`${prefix}/${name}`, `${canonicalJson(value)}\n`, { retainUntil, contentType: 'application/json' });
    const manifestObj = await put(`manifest-${signature.manifestSignatureId}.json`, manifest);
    const signatureObj = await put(`signature-${signature.manifestSignatureId}.json`, signature);
    await this.store.retain(upload.storage_key, info.versionId, retainUntil);
    // Claimed: no longer a pending upload the lifecycle rule (S3) or the expiry job may remove.
    await this.store.clearPendingUpload(upload.storage_key, info.versionId);

    try {
      await this.database.db.transaction().execute(async (tx) => {
        // Serialised with the expiry job by the row lock: either it expired first (refused
        // here) or this registration claims the upload and the job leaves it alone.
        const claimed = await tx
          .updateTable('uploads')
          .set({ registered_at: now })
          .where('upload_id', '=', input.uploadId)
          .where('expired_at', 'is', null)
          .returning('upload_id')
          .executeTakeFirst();
        if (!claimed)
          throw new AegisError('UPLOAD_EXPIRED', `upload ${input.uploadId} expired while it was being registered; upload the bytes again`, {
            field: 'uploadId',
          });
        await tx
          .insertInto('models')
          .values({ name: m.modelName, created_by: principal.id, created_at: now, latest_version: 0 })
          .onConflict((oc) => oc.column('name').doNothing())
          .execute();
        const { latest_version: version } = await tx
          .updateTable('models')
          .set((eb) => ({ latest_version: eb('latest_version', '+', 1) }))
          .where('name', '=', m.modelName)
          .returning('latest_version')
          .executeTakeFirstOrThrow();
        await tx
          .insertInto('artifacts')
          .values({
            artifact_id: artifactId,
            model_name: m.modelName,
            version,
            sha256,
            size: info.size,
            storage_key: upload.storage_key,
            storage_version_id: info.versionId,
            manifest_key: manifestObj.key,
            manifest_version_id: manifestObj.versionId,
            signature_key: signatureObj.key,
            signature_version_id: signatureObj.versionId,
            manifest: canonicalJson(manifest),
            manifest_sha256: manifestSha256(manifest),
            manifest_signature_id: signature.manifestSignatureId,
            signer_id: signature.signerId,
            created_by: principal.id,
            created_at: now,
          })
          .execute();
        await tx
          .insertInto('manifest_signatures')
          .values({
            manifest_signature_id: signature.manifestSignatureId,
            artifact_id: artifactId,
            signer_id: signature.signerId,
            alg: signature.alg,
            signature: signature.signature,
            ts: now,
          })
          .execute();
        for (const ref of uniqueRefs(m.datasetRefs)) {
          await tx.insertInto('artifact_datasets').values({ artifact_id: artifactId, dataset_id: ref.id, version: ref.version }).execute();
        }
        await this.audit.append(tx, {
          type: 'manifest.signed',
          actor: principal.id,
          subject: `artifact:${artifactId}`,
          payload: {
            manifestSignatureId: signature.manifestSignatureId,
            artifactId,
            manifestSha256: manifestSha256(manifest),
            signerId: signature.signerId,
            alg: signature.alg,
            ts: signature.ts,
          },
        });
        await this.audit.append(tx, {
          type: 'artifact.registered',
          actor: principal.id,
          subject: `artifact:${artifactId}`,
          payload: {
            artifactId,
            modelName: m.modelName,
            version,
            sha256,
            size: info.size,
            manifestSha256: manifestSha256(manifest),
            manifestSignatureId: signature.manifestSignatureId,
            storage: {
              key: upload.storage_key,
              versionId: info.versionId,
              manifestKey: manifestObj.key,
              manifestVersionId: manifestObj.versionId,
              signatureKey: signatureObj.key,
              signatureVersionId: signatureObj.versionId,
            },
            createdAt: now.toISOString(),
          },
        });
        if (idempotencyKey) {
          await tx
            .insertInto('idempotency_keys')
            .values({
              principal: principal.id,
              idempotency_key: idempotencyKey,
              request_sha256: requestSha256,
              artifact_id: artifactId,
              created_at: now,
            })
            .execute();
        }
      });
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      // A concurrent registration of the same model+sha256 (or idempotency key) won the race.
      const winner = await this.database.db
        .selectFrom('artifacts')
        .select('artifact_id')
        .where('model_name', '=', m.modelName)
        .where('sha256', '=', sha256)
        .executeTakeFirst();
      if (winner) return this.#replayOrRefuse((await this.get(winner.artifact_id))!, m);
      throw new AegisError('CONFLICT', `artifact ${artifactId} already exists`, { field: 'manifest.artifactId', cause: e });
    }
    return this.#result((await this.get(artifactId))!, false);
  }

  /**
   * The same bytes registered again: a replay only when the manifest is the same (its
   * artifactId may be left out: the registry assigned it); otherwise a conflict naming both.
   */
  #replayOrRefuse(existing: ArtifactRecord, m: ManifestInput): RegistrationResult {
    const candidate = TrainingManifest.safeParse({ ...m, artifactId: m.artifactId ?? existing.artifactId });
    const sha = candidate.success ? manifestSha256(candidate.data) : canonicalSha256(m);
    if (sha === existing.manifestSha256) return this.#result(existing, true);
    throw new AegisError(
      'ALREADY_REGISTERED_DIFFERENTLY',
      `these bytes are already registered as ${existing.modelName} v${existing.version} (artifact ${existing.artifactId}) with manifest sha256 ${existing.manifestSha256}; this manifest's sha256 is ${sha}. Register the registered manifest again to replay, or new bytes as a new version`,
      {
        field: 'manifest',
        details: {
          artifactId: existing.artifactId,
          version: existing.version,
          registeredManifestSha256: existing.manifestSha256,
          manifestSha256: sha,
        },
      },
    );
  }

  #pendingUntil(createdAt: Date | string): Date {
    return new Date(Date.parse(toIso(createdAt)) + (this.opts.pendingUploadTtlSeconds ?? DEFAULT_PENDING_UPLOAD_TTL_SECONDS) * 1000);
  }

  /**
   * Expires uploads never registered within their TTL (refused, replayed under another
   * upload, abandoned): marks each expired (registration then refuses it), deletes the
   * unretained versions at its key (unless the bucket's lifecycle rule does) and then its row. A run that fails half way is finished
   * by the next one. The scheduler runs it (`pending-upload-expiry`).
   */
  async expirePendingUploads(): Promise<UploadExpiryResult> {
    const now = this.clock.now();
    const cutoff = new Date(now.getTime() - (this.opts.pendingUploadTtlSeconds ?? DEFAULT_PENDING_UPLOAD_TTL_SECONDS) * 1000);
    const db = this.database.db;
    const rows = await db
      .selectFrom('uploads')
      .select(['upload_id', 'storage_key', 'expired_at'])
      .where('registered_at', 'is', null)
      .where((eb) => eb.or([eb('expired_at', 'is not', null), eb('created_at', '<=', cutoff)]))
      .orderBy('created_at')
      .limit(EXPIRY_BATCH)
      .execute();
    const result: UploadExpiryResult = { expired: [], versionsRemoved: 0, kept: [] };
    for (const row of rows) {
      if (row.expired_at === null) {
        const claimed = await db
          .updateTable('uploads')
          .set({ expired_at: now })
          .where('upload_id', '=', row.upload_id)
          .where('registered_at', 'is', null)
          .where('expired_at', 'is', null)
          .returning('upload_id')
          .executeTakeFirst();
        if (!claimed) continue; // registered meanwhile
      }
      const kept =
        this.opts.pendingUploadBytes === 'lifecycle'
          ? undefined
          : await this.#removeUnclaimedVersions(row.storage_key, (n) => (result.versionsRemoved += n));
      if (kept) result.kept.push({ uploadId: row.upload_id, key: row.storage_key, reason: kept });
      await db.deleteFrom('uploads').where('upload_id', '=', row.upload_id).where('registered_at', 'is', null).execute();
      result.expired.push(row.upload_id);
    }
    return result;
  }

  /** Deletes the key's versions, newest first, until none is left or one is retained; says why it stopped early. */
  async #removeUnclaimedVersions(key: string, removed: (n: number) => void): Promise<string | undefined> {
    for (let i = 0; i < 1000; i++) {
      const info = await this.store.head(key);
      if (!info) return undefined;
      if (info.retainUntil && info.retainUntil > new Date())
        return `version ${info.versionId} is retained until ${info.retainUntil.toISOString()} (a registration attempt claimed it)`;
      try {
        await this.store.delete(key, { versionId: info.versionId });
      } catch (e) {
        if (e instanceof AegisError && e.code === 'OBJECT_NOT_FOUND') continue;
        if (e instanceof AegisError && e.code === 'RETENTION_LOCKED') return e.message;
        throw e;
      }
      removed(1);
    }
    return 'more than 1000 versions';
  }

  #result(r: ArtifactRecord, replayed: boolean): RegistrationResult {
    return {
      artifactId: r.artifactId,
      modelName: r.modelName,
      version: r.version,
      sha256: r.sha256,
      manifestSignatureId: r.signature.manifestSignatureId,
      signerId: r.signature.signerId,
      replayed,
    };
  }

  async get(artifactId: string): Promise<ArtifactRecord | undefined> {
    const row = await this.#selectArtifacts().where('a.artifact_id', '=', artifactId).executeTakeFirst();
    return row ? toArtifact(row) : undefined;
  }

  async getVersion(modelName: string, version: number): Promise<ArtifactRecord | undefined> {
    const row = await this.#selectArtifacts().where('a.model_name', '=', modelName).where('a.version', '=', version).executeTakeFirst();
    return row ? toArtifact(row) : undefined;
  }

  async listModels(opts: { limit: number; cursor?: string }): Promise<Page<{ name: string; latestVersion: number; createdAt: string }>> {
    let q = this.database.db
      .selectFrom('models')
      .selectAll()
      .orderBy('name')
      .limit(opts.limit + 1);
    if (opts.cursor) q = q.where('name', '>', opts.cursor);
    const rows = await q.execute();
    const items = rows.slice(0, opts.limit).map((r) => ({ name: r.name, latestVersion: r.latest_version, createdAt: toIso(r.created_at) }));
    return { items, nextCursor: rows.length > opts.limit ? items[items.length - 1]!.name : null };
  }

  /** Versions newest first; the cursor is the last version of the previous page. */
  async listVersions(modelName: string, opts: { limit: number; cursor?: number }): Promise<Page<ArtifactRecord>> {
    const model = await this.database.db.selectFrom('models').select('name').where('name', '=', modelName).executeTakeFirst();
    if (!model) throw new AegisError('NOT_FOUND', `no model ${modelName}`, { field: 'model' });
    let q = this.#selectArtifacts()
      .where('a.model_name', '=', modelName)
      .orderBy('a.version', 'desc')
      .limit(opts.limit + 1);
    if (opts.cursor !== undefined) q = q.where('a.version', '<', opts.cursor);
    const rows = await q.execute();
    const items = rows.slice(0, opts.limit).map(toArtifact);
    return { items, nextCursor: rows.length > opts.limit ? String(items[items.length - 1]!.version) : null };
  }

  #selectArtifacts() {
    return this.database.db
      .selectFrom('artifacts as a')
      .innerJoin('manifest_signatures as s', 's.manifest_signature_id', 'a.manifest_signature_id')
      .select([
        'a.artifact_id',
        'a.model_name',
        'a.version',
        'a.sha256',
        'a.size',
        'a.storage_key',
        'a.storage_version_id',
        'a.manifest_key',
        'a.signature_key',
        'a.manifest',
        'a.manifest_sha256',
        'a.created_by',
        'a.created_at',
        's.manifest_signature_id',
        's.signer_id',
        's.alg',
        's.signature',
        's.ts',
      ]);
  }
}

type ArtifactRow = {
  artifact_id: string;
  model_name: string;
  version: number;
  sha256: string;
  size: string | number;
  storage_key: string;
  storage_version_id: string;
  manifest_key: string;
  signature_key: string;
  manifest: string;
  manifest_sha256: string;
  created_by: string;
  created_at: Date | string;
  manifest_signature_id: string;
  signer_id: string;
  alg: string;
  signature: string;
  ts: Date | string;
};

function toArtifact(r: ArtifactRow): ArtifactRecord {
  return {
    artifactId: r.artifact_id,
    modelName: r.model_name,
    version: r.version,
    sha256: r.sha256.trim(),
    size: Number(r.size),
    storage: { key: r.storage_key, versionId: r.storage_version_id, manifestKey: r.manifest_key, signatureKey: r.signature_key },
    // Parsed leniently: a tampered row must still load so verification can report it.
    manifest: JSON.parse(r.manifest) as TrainingManifest,
    manifestSha256: r.manifest_sha256.trim(),
    signature: {
      manifestSignatureId: r.manifest_signature_id,
      signerId: r.signer_id,
      alg: r.alg as SignatureAlg,
      signature: r.signature,
      ts: toIso(r.ts),
    },
    createdBy: r.created_by,
    createdAt: toIso(r.created_at),
  };
}
