import { AegisError } from '../kernel/errors.js';
import { parseJsonStrict } from '../kernel/json.js';
import { LIMITS, type TrainingManifest } from '../kernel/manifest.js';
import { SignatureSidecar, type ManifestSigned } from '../modules/registry/events.js';
import type { ArchivedRegistration, VerifiedRegistration } from '../modules/registry/restore.js';
import type { KeyRecord, SignatureRecord } from '../kernel/signatures.js';
import { verifyManifest, type CheckName } from '../kernel/verification.js';
import { hashStream } from '../kernel/hashing.js';
import type { ObjectInfo, ObjectStore } from '../platform/ports/object-store.js';
import type { Orphan, Problem, ProblemCode } from './types.js';

/** Where one registration's objects are (see RegistryService.register for the layout). */
export interface StorageRef {
  key: string;
  /** undefined for a registration found in storage: its latest (retained) version is used */
  versionId?: string;
  manifestKey: string;
  manifestVersionId: string;
  signatureKey: string;
  signatureVersionId: string;
}

/** What the archive says a registration was; absent for one found only in storage. */
export interface ArchivedFacts {
  artifactId: string;
  modelName: string;
  sha256: string;
  size: number;
  manifestSha256: string;
  signed: ManifestSigned;
}

/** What the registry restore takes in: a registration whose objects verified. */
export type VerifiedArtifact = VerifiedRegistration;

export type Verdict = { ok: true; artifact: VerifiedArtifact } | { ok: false; problem: Problem };

const CHECK_PROBLEM: Record<CheckName, ProblemCode> = {
  'manifest-schema': 'manifest-invalid',
  'artifact-sha256': 'sha256-mismatch',
  'artifact-size': 'size-mismatch',
  // not checked on restore (the baseline is not read), mapped for completeness
  baselineSha256: 'sha256-mismatch',
  'manifest-registered': 'manifest-mismatch',
  signature: 'signature-invalid',
  signer: 'signer-invalid',
  provenance: 'manifest-invalid',
};

async function readJson(store: ObjectStore, key: string, versionId: string): Promise<unknown> {
  let text = '';
  for await (const chunk of await store.get(key, { versionId })) text += (chunk as Buffer).toString('utf8');
  return parseJsonStrict(text, { maxDepth: LIMITS.jsonDepth });
}

/** Why an item cannot be restored. */
type Failure = { problem: ProblemCode; detail: string };
const failure = (problem: ProblemCode, detail: string): Failure => ({ problem, detail });

/** The manifest (unchecked) and signature record of a registration, stored under its signature's name and, when archived, as recorded. */
async function readSidecars(
  store: ObjectStore,
  ref: StorageRef,
  a: ArchivedFacts | undefined,
): Promise<{ manifest: unknown; signature: SignatureRecord } | Failure> {
  let manifest: unknown;
  let sigRaw: unknown;
  try {
    manifest = await readJson(store, ref.manifestKey, ref.manifestVersionId);
    sigRaw = await readJson(store, ref.signatureKey, ref.signatureVersionId);
  } catch (e) {
    if (e instanceof AegisError && e.code === 'OBJECT_NOT_FOUND') return failure('object-missing', e.message);
    return failure('sidecar-unreadable', `${ref.manifestKey}: ${(e as Error).message}`);
  }
  const sig = SignatureSidecar.safeParse(sigRaw);
  if (!sig.success) return failure('sidecar-unreadable', `${ref.signatureKey} is not a signature record`);
  const signature: SignatureRecord = sig.data;
  const sigId = signature.manifestSignatureId;
  if (!ref.signatureKey.endsWith(`/signature-${sigId}.json`) || !ref.manifestKey.endsWith(`/manifest-${sigId}.json`)) {
    return failure('signature-record-mismatch', `signature record ${sigId} is stored under another signature's name`);
  }
  const s = a?.signed;
  if (s && (s.manifestSignatureId !== sigId || s.signerId !== signature.signerId || s.alg !== signature.alg || s.ts !== signature.ts)) {
    return failure('signature-record-mismatch', `${ref.signatureKey} differs from the archived manifest.signed event`);
  }
  return { manifest, signature };
}

/** The artifact bytes' object, and their sha256 and size: hashed (`verifyBytes`), as the store recorded them, or unknown. */
async function readBytes(
  store: ObjectStore,
  ref: StorageRef,
  verifyBytes: boolean,
): Promise<{ head: ObjectInfo; bytes: { sha256: string; size: number } | undefined } | Failure> {
  const head = await store.head(ref.key, ref.versionId ? { versionId: ref.versionId } : {});
  if (!head) return failure('object-missing', `artifact bytes ${ref.key}${ref.versionId ? ` version ${ref.versionId}` : ''} are missing`);
  try {
    if (verifyBytes) return { head, bytes: await hashStream(await store.get(ref.key, { versionId: head.versionId })) };
    return { head, bytes: head.sha256 ? { sha256: head.sha256, size: head.size } : undefined };
  } catch (e) {
    // e.g. a version moved to an archive storage class: listed, but not readable until restored
    return failure('object-missing', `artifact bytes ${ref.key} version ${head.versionId} cannot be read: ${(e as Error).message}`);
  }
}

/** What a verifier does not check: the registration against the archive (or, found in storage, against where it lies), the size the store records. */
function checkRegistration(
  m: TrainingManifest,
  c: { ref: StorageRef; a: ArchivedFacts | undefined; key: KeyRecord | undefined; head: ObjectInfo; hashed: boolean },
  warnings: string[],
): Failure | undefined {
  const { ref, a, key } = c;
  // Only the chain vouches that a registration happened while its key was trusted; without
  // it, a key revoked for compromise could have signed these sidecars, backdated, at any time.
  if (!a && key?.revokedAt)
    return failure(
      'signer-invalid',
      `signed by ${key.kid}, revoked at ${key.revokedAt}, and not in the audit archive: nothing vouches for it`,
    );
  if (!c.hashed && c.head.size !== m.artifactSize)
    return failure('size-mismatch', `stored artifact is ${c.head.size} bytes, the manifest says ${m.artifactSize}`);
  if (!c.hashed) warnings.push(`${m.artifactId}: sha256 of the bytes not checked (the store records none; use --verify-bytes)`);
  if (a && (m.artifactId !== a.artifactId || m.modelName !== a.modelName || m.artifactSha256 !== a.sha256 || m.artifactSize !== a.size))
    return failure('manifest-mismatch', `${ref.manifestKey} names another artifact than the archived artifact.registered event`);
  if (!a && !ref.key.startsWith(`artifacts/${m.modelName}/`))
    return failure('manifest-mismatch', `${ref.manifestKey} is stored under another model than ${m.modelName}`);
  if (key?.revokedAt)
    warnings.push(`${m.artifactId}: signer ${key.kid} was revoked at ${key.revokedAt}; restored, and fails verification as it did before`);
  return undefined;
}

/**
 * Reads a registration's manifest and signature sidecars and checks them as a verifier
 * would (schema, signature under the rebuilt ring, signer window, bytes), plus, for an
 * archived one, that they are exactly what the archive recorded. Failures come back as one
 * problem naming every failed check; the item must then be skipped.
 */
export async function verifyStoredArtifact(
  store: ObjectStore,
  ring: ReadonlyMap<string, KeyRecord>,
  ref: StorageRef,
  opts: { verifyBytes: boolean; archived?: ArchivedFacts },
): Promise<Verdict> {
  const a = opts.archived;
  const fail = (f: Failure): Verdict => ({
    ok: false,
    problem: { kind: a ? 'artifact' : 'sidecar', id: a?.artifactId ?? ref.manifestKey, ...f },
  });
  const sidecars = await readSidecars(store, ref, a);
  if ('problem' in sidecars) return fail(sidecars);
  const stored = await readBytes(store, ref, opts.verifyBytes);
  if ('problem' in stored) return fail(stored);
  const { manifest, signature } = sidecars;
  const { head, bytes } = stored;
  const key = ring.get(signature.signerId);
  const report = verifyManifest({
    manifest,
    signature,
    // Revocation is kept in the rebuilt ring, not applied here: see ignoringRevocation.
    key: key && { ...key, revokedAt: null },
    ...(bytes ? { bytes } : {}),
    ...(a ? { registeredManifestSha256: a.manifestSha256 } : {}),
  });
  // A registered manifest with empty provenance was accepted then; it is restored as it was.
  const failed = report.checks.filter((c) => !c.ok && c.check !== 'provenance');
  if (failed.length) return fail(failure(CHECK_PROBLEM[failed[0]!.check], failed.map((c) => `${c.check}: ${c.reason}`).join('; ')));
  const m = manifest as TrainingManifest;
  const warnings: string[] = [];
  const refused = checkRegistration(m, { ref, a, key, head, hashed: bytes !== undefined }, warnings);
  if (refused) return fail(refused);
  const prov = report.checks.find((c) => c.check === 'provenance' && !c.ok);
  if (prov) warnings.push(`${m.artifactId}: provenance incomplete (${prov.reason}), as registered`);
  const storage = { ...ref, versionId: head.versionId };
  return { ok: true, artifact: { manifest: m, signature, sha256: m.artifactSha256, size: head.size, storage, warnings } };
}

/** An archived registration checked against its objects and its `manifest.signed` event (a problem when the archive holds none). */
export async function verifyArchived(
  store: ObjectStore,
  ring: ReadonlyMap<string, KeyRecord>,
  r: ArchivedRegistration,
  verifyBytes: boolean,
): Promise<Verdict> {
  const a = r.registered;
  if (!r.signed) {
    const detail = `no manifest.signed event for signature ${a.manifestSignatureId}`;
    return { ok: false, problem: { kind: 'artifact', id: a.artifactId, problem: 'payload-invalid', detail } };
  }
  const { artifactId, modelName, sha256, size, manifestSha256 } = a;
  return verifyStoredArtifact(store, ring, a.storage, {
    verifyBytes,
    archived: { artifactId, modelName, sha256, size, manifestSha256, signed: r.signed },
  });
}

export interface StorageScan {
  /** sidecar pairs no archived registration references */
  candidates: StorageRef[];
  orphans: Orphan[];
  /** keys of bytes still marked as pending uploads (no sidecars): never restored, never orphans; they expire */
  pendingUploads: string[];
  objects: number;
}

const SIDECAR = /^(manifest|signature)-(.+)\.json$/;

/**
 * Lists `artifacts/<model>/<uploadId>/…` and pairs `manifest-<sigId>.json` with
 * `signature-<sigId>.json`. Pairs whose keys the archive references are skipped; half pairs
 * and bytes without any sidecar are orphans, never restored.
 */
export async function scanArtifactStore(store: ObjectStore, referenced: ReadonlySet<string>): Promise<StorageScan> {
  type Dir = { artifact?: ObjectInfo; manifests: Map<string, ObjectInfo>; signatures: Map<string, ObjectInfo> };
  const dirs = new Map<string, Dir>();
  let objects = 0;
  for await (const o of store.list('artifacts/')) {
    objects++;
    const cut = o.key.lastIndexOf('/');
    const dir = o.key.slice(0, cut);
    const name = o.key.slice(cut + 1);
    const d: Dir = dirs.get(dir) ?? { manifests: new Map(), signatures: new Map() };
    dirs.set(dir, d);
    const m = SIDECAR.exec(name);
    if (name === 'artifact') d.artifact = o;
    else if (m) (m[1] === 'manifest' ? d.manifests : d.signatures).set(m[2]!, o);
  }
  const candidates: StorageRef[] = [];
  const orphans: Orphan[] = [];
  const pendingUploads: string[] = [];
  for (const [dir, d] of dirs) {
    const sigIds = new Set([...d.manifests.keys(), ...d.signatures.keys()]);
    let sidecarsSeen = false;
    for (const sigId of sigIds) {
      const mo = d.manifests.get(sigId);
      const so = d.signatures.get(sigId);
      if ((mo && referenced.has(mo.key)) || (so && referenced.has(so.key))) {
        sidecarsSeen = true;
        continue;
      }
      if (!mo || !so) {
        orphans.push({
          kind: 'incomplete-sidecars',
          keys: [(mo ?? so)!.key],
          detail: `${mo ? 'signature' : 'manifest'} sidecar for ${sigId} is missing`,
        });
        continue;
      }
      sidecarsSeen = true;
      candidates.push({
        key: `${dir}/artifact`,
        manifestKey: mo.key,
        manifestVersionId: mo.versionId,
        signatureKey: so.key,
        signatureVersionId: so.versionId,
      });
    }
    if (d.artifact && !sidecarsSeen && !referenced.has(d.artifact.key) && d.artifact.pendingUpload) {
      pendingUploads.push(d.artifact.key);
    } else if (d.artifact && !sidecarsSeen && !referenced.has(d.artifact.key)) {
      orphans.push({
        kind: 'unregistered-upload',
        keys: [d.artifact.key],
        detail:
          'uploaded bytes with no manifest or signature and no pending-upload mark: claimed by a registration whose record is lost, or older than the mark',
      });
    }
  }
  return { candidates, orphans, pendingUploads, objects };
}

/** Runs `fn` over `items` with at most `limit` in flight (object stores answer in ~ms each). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
