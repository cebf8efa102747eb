/** Helpers of the DR drill (scripts/dr-drill.ts): populating over HTTP, copying folders. */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, cp, lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Replies are read loosely: the drill checks the fields it needs and fails loudly on the rest. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loose JSON replies, see above
type Json = any;

export interface Api {
  (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }>;
}

/** A bearer-token client for the local server, as the CLI uses. */
export function apiClient(baseUrl: string, token: string): Api {
  return async (method, path, body) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) };
    } catch {
      return { status: res.status, body: text };
    }
  };
}

const expectOk = (what: string, r: { status: number; body: unknown }) => {
  if (r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as Json;
};

const DATASETS = [
  { id: 'transactions', version: '2026-11' },
  { id: 'clickstream', version: 'v3' },
  { id: 'labels', version: '2026-10' },
].map((d) => ({
  ...d,
  checksum: `sha256:${createHash('sha256').update(`${d.id}@${d.version}`).digest('hex')}`,
  uri: `s3://drill-data/${d.id}/${d.version}`,
}));
const MODELS = ['churn', 'fraud-detector', 'ranker', 'forecast'];

export interface Populated {
  datasets: number;
  artifacts: number;
  rotations: number;
  /** uploads left unregistered (bytes PUT, never registered): pending, not lost records */
  pendingUploads: number;
}

/**
 * What a registry accumulates, through the HTTP API as clients would: datasets, `n`
 * registrations over four models, a manifest key rotation half way (so rebuilt
 * signatures must verify under a retired key's window), and one upload never registered.
 */
export async function populate(api: Api, n: number): Promise<Populated> {
  for (const d of DATASETS) expectOk(`dataset ${d.id}`, await api('POST', '/v1/datasets', d));
  let rotations = 0;
  for (let i = 0; i < n; i++) {
    if (i === Math.floor(n / 2)) {
      expectOk('key rotation', await api('POST', '/v1/keys/rotate', { purpose: 'manifest' }));
      rotations++;
    }
    const model = MODELS[i % MODELS.length]!;
    const bytes = randomBytes(4096 + i);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const up = expectOk('upload', await api('POST', '/v1/registry/uploads', { modelName: model, size: bytes.length }));
    const put = await fetch(up.url, { method: 'PUT', body: bytes });
    if (put.status !== 200) throw new Error(`upload PUT: HTTP ${put.status}`);
    const refs = [DATASETS[i % DATASETS.length]!, DATASETS[(i + 1) % DATASETS.length]!].map(({ id, version, checksum }) => ({
      id,
      version,
      checksum,
    }));
    const manifest = {
      modelName: model,
      codeRef: `git:${createHash('sha1').update(String(i)).digest('hex').slice(0, 7)}`,
      containerDigest: `sha256:${'a'.repeat(64)}`,
      datasetRefs: refs,
      hyperparams: { lr: 0.05, epochs: 1 + (i % 5) },
      seed: i,
      trainingCmd: 'python train.py',
      environment: { python: '3.11' },
      artifactSha256: sha256,
      artifactSize: bytes.length,
      metrics: { auc: 0.8 + (i % 10) / 100 },
      createdAt: new Date().toISOString(),
    };
    expectOk(`register ${model} #${i}`, await api('POST', '/v1/registry/register', { uploadId: up.uploadId, manifest }));
  }
  // An abandoned upload: its bytes stay marked pending until the expiry job removes them. The
  // drill must tell it from a lost record.
  const bytes = randomBytes(1024);
  const up = expectOk('abandoned upload', await api('POST', '/v1/registry/uploads', { modelName: MODELS[0], size: bytes.length }));
  const put = await fetch(up.url, { method: 'PUT', body: bytes, headers: up.headers });
  if (put.status !== 200) throw new Error(`abandoned upload PUT: HTTP ${put.status}`);
  return { datasets: DATASETS.length, artifacts: n, rotations, pendingUploads: 1 };
}

/**
 * Copies a folder keeping file modes: restored store versions stay read-only (0444), as the
 * store wrote them, so retention still holds in the copy.
 */
export async function copyTree(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true, errorOnExist: true, force: false, preserveTimestamps: true });
}

/** The store's versions are read-only; make a tree writable again so it can be removed. */
async function makeWritable(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st || st.isSymbolicLink()) return;
  await chmod(path, st.isDirectory() ? 0o755 : 0o644);
  if (st.isDirectory()) for (const name of await readdir(path)) await makeWritable(join(path, name));
}

export async function removeTree(path: string): Promise<void> {
  await makeWritable(path);
  await rm(path, { recursive: true, force: true });
}

/** Runs `fn`, recording its wall time under `name`. */
export async function timed<T>(durations: Map<string, number>, name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    durations.set(name, performance.now() - t0);
  }
}
