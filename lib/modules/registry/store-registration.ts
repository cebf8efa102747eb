/**
 * A registration's two statements on the registry's tables: what it needs to know before it
 * hashes and signs (one read), and what it writes (one statement of data-modifying CTEs). With
 * store.ts and store-uploads.ts the only code that builds SQL on the module's tables.
 */
import { sql, type QueryCreator } from 'kysely';
import type { ModelRef } from '../../kernel/identity.js';
import type { Executor } from '../../platform/ports/database.js';
import type { AuditLog, LockedHead } from '../../platform/audit/log.js';
import { toIso, toIsoOrNull, type DB } from '../../platform/sql/schema.js';
import type { Registration, Upload } from './domain.js';
import { artifactDatasetRows, artifactRow, manifestSignatureRow } from './store.js';
import { uploadRow, type NewUpload } from './store-uploads.js';

/** What a registration reads before its work: each part undefined when there is none. */
export interface RegistrationContext {
  upload: Upload | undefined;
  /** the model's name and team, when the model exists */
  model: ModelRef | undefined;
  /** the principal's earlier use of the idempotency key, when there was one */
  prior: { requestSha256: string; artifactId: string } | undefined;
  /** the artifact of this model with the manifest's sha256, when registered */
  sameBytes: string | undefined;
  /** the model of the manifest's parent artifact, when it names one that exists */
  parentModel: string | undefined;
}

/** One statement: the upload, the model, the idempotency key, the artifact with these bytes and the parent's model. */
export async function readRegistrationContext(
  x: Executor,
  q: { uploadId: string; modelName: string; sha256: string; principal: string; idempotencyKey?: string; parentId?: string },
): Promise<RegistrationContext> {
  // one row whatever exists: each left join adds at most one (every join is on a unique key)
  const row = await x
    .selectFrom(sql<{ one: number }>`(select 1 as one)`.as('one'))
    .leftJoin('uploads as u', (j) => j.on('u.upload_id', '=', q.uploadId))
    .leftJoin('models as m', (j) => j.on('m.name', '=', q.modelName))
    .leftJoin('idempotency_keys as k', (j) => j.on('k.principal', '=', q.principal).on('k.idempotency_key', '=', q.idempotencyKey ?? null))
    .leftJoin('artifacts as same', (j) => j.on('same.model_name', '=', q.modelName).on('same.sha256', '=', q.sha256))
    .leftJoin('artifacts as parent', (j) => j.on('parent.artifact_id', '=', q.parentId ?? null))
    .select([
      'u.upload_id',
      'u.model_name as upload_model',
      'u.storage_key',
      'u.created_by',
      'u.created_at',
      'u.expired_at',
      'u.max_size',
      'u.part_bytes',
      'm.name as model_name',
      'm.team',
      'k.request_sha256',
      'k.artifact_id as prior_artifact_id',
      'same.artifact_id as same_artifact_id',
      'parent.model_name as parent_model',
    ])
    .executeTakeFirstOrThrow();
  return {
    upload:
      row.upload_id === null
        ? undefined
        : {
            uploadId: row.upload_id,
            modelName: row.upload_model!,
            storageKey: row.storage_key!,
            createdBy: row.created_by!,
            createdAt: toIso(row.created_at!),
            expiredAt: toIsoOrNull(row.expired_at),
            maxSize: Number(row.max_size),
            partBytes: row.part_bytes === null ? null : Number(row.part_bytes),
          },
    model: row.model_name === null ? undefined : { name: row.model_name, team: row.team },
    prior: row.request_sha256 === null ? undefined : { requestSha256: row.request_sha256, artifactId: row.prior_artifact_id! },
    sameBytes: row.same_artifact_id ?? undefined,
    parentModel: row.parent_model ?? undefined,
  };
}

const idempotencyRow = (k: { principal: string; idempotencyKey: string; requestSha256: string }, artifactId: string, at: Date) => ({
  principal: k.principal,
  idempotency_key: k.idempotencyKey,
  request_sha256: k.requestSha256,
  artifact_id: artifactId,
  created_at: at,
});

/** What {@link writeRegistration} writes. */
export type RegistrationWrite = Omit<Registration, 'version'> & {
  uploadId: string;
  /**
   * The upload of bytes that came in the request (a one-request registration): its row is
   * inserted, registered, by this statement; without it, `uploadId`'s row is claimed.
   */
  newUpload?: NewUpload;
  team: string | null;
  idempotency?: { principal: string; idempotencyKey: string; requestSha256: string };
};

/**
 * A registration's rows in one statement: claims the upload (unless it expired: the row lock
 * serialises this with the expiry job; given `newUpload`, inserts it registered), creates the
 * model or takes its next version (its row lock, held to the commit), and writes the artifact, its signature, its dataset links and
 * the idempotency key, and, given `lockHead`, locks the audit chain's head for the append that
 * follows (`head`; a group commit's batch locks it after all its changes' writes instead).
 * `claimed` false: expiry won, and the caller must roll back.
 */
export async function writeRegistration(
  x: Executor,
  r: RegistrationWrite,
  lockHead: AuditLog['lockHead'] | undefined,
): Promise<{ version: number; team: string | null; claimed: boolean; head: LockedHead | undefined }> {
  const q = registrationWrites(x, r);
  const claimed = sql<number>`(select count(*) from claim)`.as('claimed');
  const written = (row: { latest_version: number | string; team: string | null; claimed: number | string }) => ({
    version: Number(row.latest_version),
    team: row.team,
    claimed: Number(row.claimed) > 0,
  });
  if (!lockHead) {
    const row = await q.selectFrom('model').select(['model.latest_version', 'model.team', claimed]).executeTakeFirstOrThrow();
    return { ...written(row), head: undefined };
  }
  const row = await q
    // the chain head's lock, after the upload's and the model's row locks
    .with('head', (db) => lockHead(db as unknown as QueryCreator<DB>, ['claim', 'model', 'artifact']))
    .selectFrom(['model', 'head'])
    .select(['model.latest_version', 'model.team', claimed, 'head.seq', 'head.hash', 'head.key_ring_seq'])
    .executeTakeFirstOrThrow();
  return { ...written(row), head: row };
}

/** The data-modifying CTEs of {@link writeRegistration}: the upload claimed, the model's version taken, the rows inserted. */
function registrationWrites(x: Executor, r: RegistrationWrite) {
  const at = new Date(r.createdAt);
  const artifact = artifactRow({ ...r, version: 0 });
  const links = artifactDatasetRows(r.manifest);
  const received = r.newUpload && uploadRow(r.newUpload);
  let q = x
    .with('claim', (db) =>
      received
        ? db
            .insertInto('uploads')
            .values({ ...received, registered_at: at })
            .returning('upload_id')
        : db
            .updateTable('uploads')
            .set({ registered_at: at })
            .where('upload_id', '=', r.uploadId)
            .where('expired_at', 'is', null)
            .returning('upload_id'),
    )
    .with('model', (db) =>
      db
        .insertInto('models')
        .values({ name: r.manifest.modelName, team: r.team, created_by: r.createdBy, created_at: at, latest_version: 1 })
        .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ latest_version: eb('models.latest_version', '+', 1) })))
        .returning(['latest_version', 'team']),
    )
    .with('artifact', (db) =>
      db
        .insertInto('artifacts')
        // the version the model CTE took, as a scalar subquery (typed by its column, unlike a select of parameters)
        .values({ ...artifact, version: db.selectFrom('model').select('model.latest_version') })
        .returning('artifact_id'),
    )
    .with('signature', (db) =>
      db
        .insertInto('manifest_signatures')
        .values(manifestSignatureRow(r.manifest.artifactId, r.signature))
        .returning('manifest_signature_id'),
    );
  // the optional parts add CTEs no later part reads: the builder's type need not know them
  if (links.length)
    q = q.with('links', (db) => db.insertInto('artifact_datasets').values(links).returning('artifact_id')) as unknown as typeof q;
  if (r.idempotency) {
    const key = idempotencyRow(r.idempotency, r.manifest.artifactId, at);
    q = q.with('idempotency', (db) => db.insertInto('idempotency_keys').values(key).returning('artifact_id')) as unknown as typeof q;
  }
  return q;
}
