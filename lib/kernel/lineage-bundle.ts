import { canonicalJson, sha256Hex } from './canonical.js';
import { parseJsonStrict } from './json.js';
import { LIMITS, manifestSha256, TrainingManifest } from './manifest.js';
import { checkSignerValidity, statementBytes, verifyRaw, type KeyRecord, type SignatureRecord } from './signatures.js';
import { artifactEvidence, type ArtifactBaseline } from './artifact-baseline.js';
import { verifyManifest, type BaselineEvidence, type Check } from './verification.js';

/**
 * A lineage bundle: the files an auditor needs to follow an artifact to its datasets and
 * code without trusting the server, plus an index of their sha256 signed by the registry's
 * manifest key. Every file is canonical JSON and a newline, so it can be re-serialised.
 */
export const BUNDLE_FILES = ['manifest.json', 'signature.json', 'record.json', 'datasets.json', 'keys.json', 'lineage.json'] as const;
export type BundleFile = (typeof BUNDLE_FILES)[number];
/**
 * Optional: a retrained artifact's parent, `{ manifest, signature }` as the registry signed them,
 * so the `retrained-from` edge can be checked offline. Absent: the parent is outside the bundle.
 */
export const PARENT_FILE = 'parent.json';
export const INDEX_FILE = 'bundle.json';
export const INDEX_SIGNATURE_FILE = 'bundle.sig.json';
export const BUNDLE_TYPE = 'aegis.lineage-bundle/v1';

export interface BundleIndex {
  type: typeof BUNDLE_TYPE;
  artifactId: string;
  createdAt: string;
  signerId: string;
  /** file name → sha256 hex of its bytes */
  files: Record<string, string>;
}

export type BundleSignature = Omit<SignatureRecord, 'manifestSignatureId'>;

export const fileText = (value: unknown): string => `${canonicalJson(value)}\n`;

export function buildIndex(
  files: Record<BundleFile, string> & { [PARENT_FILE]?: string },
  meta: { artifactId: string; createdAt: string; signerId: string },
): BundleIndex {
  const hashes: Record<string, string> = {};
  for (const name of BUNDLE_FILES) hashes[name] = sha256Hex(files[name]);
  if (files[PARENT_FILE] !== undefined) hashes[PARENT_FILE] = sha256Hex(files[PARENT_FILE]);
  return { type: BUNDLE_TYPE, ...meta, files: hashes };
}

export type BundleCheck = Omit<Check, 'check'> & { check: string };

export interface BundleReport {
  ok: boolean;
  artifactId: string | null;
  checks: BundleCheck[];
  /** keys the verdict rests on: pin them with trusted keys for a verdict independent of the bundle */
  trust: { pinned: boolean; keys: { kid: string; publicKey: string }[] };
}

type Named = BundleCheck;
const pass = (check: string): Named => ({ check, ok: true });
const fail = (check: string, reason: string): Named => ({ check, ok: false, reason });

/** Strict: a file with a duplicate key (or absurd nesting) does not parse, and the reason is kept. */
function parse<T>(files: Map<string, Buffer>, name: string, problems?: string[]): T | undefined {
  const b = files.get(name);
  if (!b) return undefined;
  try {
    return parseJsonStrict(b.toString('utf8'), { maxDepth: LIMITS.jsonDepth }) as T;
  } catch (e) {
    problems?.push(`${name}: ${(e as Error).message}`);
    return undefined;
  }
}

export interface BundleVerifyOptions {
  trustedKeys?: KeyRecord[];
  /** the artifact's bytes, hashed; with `baseline`, its `baseline.json` is checked against a pinned `baselineSha256` */
  artifact?: { sha256: string; size: number; baseline?: ArtifactBaseline };
  /** a baseline file (its bytes) to check against the manifest's `baselineSha256` */
  baseline?: { path: string; bytes: Buffer };
}

/**
 * Verifies a bundle offline: every file against the signed index, the index signature, the
 * manifest signature and signer, the registry record and dataset records against the
 * manifest, and (when given) the artifact bytes and a baseline (the signed manifest's
 * `baselineSha256`). With `trustedKeys` the signing keys must be exactly those; without, the
 * bundle's own keys.json is the trust root (reported).
 */
export function verifyBundle(files: Map<string, Buffer>, opts: BundleVerifyOptions = {}): BundleReport {
  const checks: Named[] = [];
  const unparsable: string[] = [];
  for (const name of [...BUNDLE_FILES, PARENT_FILE, INDEX_FILE, INDEX_SIGNATURE_FILE]) parse<unknown>(files, name, unparsable);
  // 0. Every file is one JSON document with one value per key: a duplicate would be read two ways.
  checks.push(unparsable.length ? fail('bundle-json', unparsable.join('; ')) : pass('bundle-json'));
  const index = parse<BundleIndex>(files, INDEX_FILE);
  const sig = parse<BundleSignature>(files, INDEX_SIGNATURE_FILE);
  const keys = parse<KeyRecord[]>(files, 'keys.json') ?? [];
  const ring = new Map((opts.trustedKeys ?? keys).map((k) => [k.kid, k]));

  // 1. Files against the index: any edited, missing or extra file is named.
  if (!index || index.type !== BUNDLE_TYPE || typeof index.files !== 'object') {
    checks.push(fail('bundle-files', `${INDEX_FILE} is missing or not a ${BUNDLE_TYPE} index`));
  } else {
    const problems: string[] = [];
    const optional = files.has(PARENT_FILE) || PARENT_FILE in index.files ? [PARENT_FILE] : [];
    for (const name of [...BUNDLE_FILES, ...optional]) {
      const b = files.get(name);
      if (!b) problems.push(`${name} is missing`);
      else if (sha256Hex(b) !== index.files[name])
        problems.push(`${name} was modified (sha256 ${sha256Hex(b)} is not the indexed ${index.files[name]})`);
    }
    const known = new Set<string>([...BUNDLE_FILES, ...optional, INDEX_FILE, INDEX_SIGNATURE_FILE]);
    for (const name of files.keys()) if (!known.has(name)) problems.push(`${name} is not part of the bundle`);
    for (const name of Object.keys(index.files))
      if (!(BUNDLE_FILES as readonly string[]).includes(name) && name !== PARENT_FILE) problems.push(`index lists unknown file ${name}`);
    checks.push(problems.length ? fail('bundle-files', problems.join('; ')) : pass('bundle-files'));
  }

  // 2. The index signature: the registry vouches for exactly these file hashes.
  if (!index || !sig) checks.push(fail('bundle-signature', `${INDEX_SIGNATURE_FILE} or ${INDEX_FILE} is missing`));
  else {
    const key = ring.get(sig.signerId);
    if (!key)
      checks.push(fail('bundle-signature', `signer ${sig.signerId} is not among the ${opts.trustedKeys ? 'trusted' : "bundle's"} keys`));
    else if (sig.signerId !== index.signerId || sig.ts !== index.createdAt)
      checks.push(fail('bundle-signature', 'signature record does not match the index (signer or time)'));
    else if (!verifyRaw(sig.alg, key.publicKey, statementBytes(index), sig.signature))
      checks.push(fail('bundle-signature', `index signature does not verify under ${key.kid}`));
    else {
      const v = checkSignerValidity(key, sig.ts, 'manifest');
      checks.push(v.ok ? pass('bundle-signature') : fail('bundle-signature', `${key.kid}: ${v.reason}`));
    }
  }

  // 3. The manifest and its signature, exactly as verify-manifest checks them.
  const manifest = parse<unknown>(files, 'manifest.json');
  const msig = parse<SignatureRecord>(files, 'signature.json');
  const baselines: BaselineEvidence[] = [];
  if (opts.artifact?.baseline) baselines.push(artifactEvidence(opts.artifact.baseline));
  if (opts.baseline) baselines.push({ sha256: sha256Hex(opts.baseline.bytes), source: 'file', from: opts.baseline.path });
  const report = verifyManifest({
    manifest,
    signature: msig,
    key: msig ? ring.get(msig.signerId) : undefined,
    ...(opts.artifact ? { bytes: { sha256: opts.artifact.sha256, size: opts.artifact.size } } : {}),
    baselines,
  });
  for (const c of report.checks)
    checks.push({ ...c, check: c.check === 'signature' || c.check === 'signer' ? `manifest-${c.check}` : c.check });

  // 4. The registry record and the datasets must describe the signed manifest.
  const parsed = TrainingManifest.safeParse(manifest);
  const record = parse<Record<string, unknown>>(files, 'record.json');
  const datasets = parse<{ id: string; version: string; checksum: string }[]>(files, 'datasets.json');
  if (parsed.success) {
    const m = parsed.data;
    const mismatched = record
      ? (['artifactId', 'modelName', 'sha256', 'size', 'manifestSha256'] as const).filter(
          (f) =>
            record[f] !==
            {
              artifactId: m.artifactId,
              modelName: m.modelName,
              sha256: m.artifactSha256,
              size: m.artifactSize,
              manifestSha256: manifestSha256(m),
            }[f],
        )
      : ['record.json'];
    checks.push(
      mismatched.length ? fail('record', `registry record disagrees with the manifest on ${mismatched.join(', ')}`) : pass('record'),
    );
    const want = new Set(m.datasetRefs.map((r) => `${r.id}@${r.version}=${r.checksum}`));
    const have = new Set((Array.isArray(datasets) ? datasets : []).map((d) => `${d.id}@${d.version}=${d.checksum}`));
    const missing = [...want].filter((x) => !have.has(x));
    const extra = [...have].filter((x) => !want.has(x));
    checks.push(
      missing.length || extra.length
        ? fail(
            'datasets',
            [
              missing.length ? `no matching dataset record for ${missing.join(', ')}` : '',
              extra.length ? `records not referenced by the manifest: ${extra.join(', ')}` : '',
            ]
              .filter(Boolean)
              .join('; '),
          )
        : pass('datasets'),
    );
    const parent = parentCheck(m, files, ring);
    if (parent) checks.push(parent);
  }

  const usedKids = new Set([sig?.signerId, msig?.signerId].filter((k): k is string => Boolean(k)));
  return {
    ok: checks.every((c) => c.ok),
    artifactId: index?.artifactId ?? null,
    checks,
    trust: {
      pinned: Boolean(opts.trustedKeys),
      keys: [...usedKids].map((kid) => ({ kid, publicKey: ring.get(kid)?.publicKey ?? '(unknown)' })),
    },
  };
}

/**
 * The `parent` check of a retrained artifact: with {@link PARENT_FILE} in the bundle, the parent's
 * manifest must be the one the signed `parent.artifactId` names, of the same model, its signature
 * valid under the ring; without it, the parent is outside the bundle (said, not failed). A parent
 * file for a manifest that names no parent fails.
 */
function parentCheck(m: TrainingManifest, files: Map<string, Buffer>, ring: Map<string, KeyRecord>): Named | undefined {
  const file = parse<{ manifest?: unknown; signature?: SignatureRecord }>(files, PARENT_FILE);
  if (!m.parent)
    return files.has(PARENT_FILE) ? fail('parent', `${PARENT_FILE} is in the bundle but the manifest names no parent`) : undefined;
  const id = m.parent.artifactId;
  if (!files.has(PARENT_FILE))
    return { check: 'parent', ok: true, reason: `parent ${id} is outside the bundle (verify its own bundle to check it)` };
  const parsed = TrainingManifest.safeParse(file?.manifest);
  if (!parsed.success) return fail('parent', `${PARENT_FILE}: the parent manifest is not a valid manifest`);
  const p = parsed.data;
  if (p.artifactId !== id) return fail('parent', `${PARENT_FILE} holds artifact ${p.artifactId}, but the manifest's parent is ${id}`);
  if (p.modelName !== m.modelName) return fail('parent', `parent ${id} is a ${p.modelName} artifact, not ${m.modelName}`);
  const sig = file?.signature;
  const report = verifyManifest({ manifest: p, signature: sig, key: sig ? ring.get(sig.signerId) : undefined });
  const bad = report.checks.filter((c) => !c.ok);
  return bad.length
    ? fail('parent', `parent ${id}: ${bad.map((c) => `${c.check}${c.reason ? ` (${c.reason})` : ''}`).join('; ')}`)
    : { check: 'parent', ok: true, reason: `parent ${id} (${PARENT_FILE}) is signed and of the same model` };
}
