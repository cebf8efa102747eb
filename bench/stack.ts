/** The local stack for the benches: temp data folder, quiet logger, a publisher client, cleanup. */
import { chmod, lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleManifest } from '../test/support/manifests.js';
import { registerDatasets } from '../lib/clients/http/registration.js';
import { AegisClient } from '../lib/clients/http/client.js';
import { loadCheckedConfig } from '../lib/platform/config.js';
import { startLocal } from '../lib/platform/composition/local-start.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface BenchStack {
  url: string;
  /** signed in as a publisher token created through POST /v1/tokens */
  publisher: AegisClient;
  /** signed in with the dev admin token (tokens for other roles, promotions) */
  admin: AegisClient;
  /** that publisher's bearer token (for CLI runs) */
  publisherToken: string;
  /** the server's services (a bench that sets what the API does not: a route's shadow) */
  container: Awaited<ReturnType<typeof startLocal>>['container'];
  /** stops the server and the database, then removes the data folder */
  close(): Promise<void>;
}

/** The replies the benchmarks read, as the wire schemas define them. */
export type { RegisterReply as Registration, SingleUploadReply as UploadTarget } from '../lib/platform/http/schemas.js';

export const tempDir = (label: string): Promise<string> => mkdtemp(join(tmpdir(), `aegis-bench-${label}-`));

/** Starts the whole local stack (PGlite, fs object store, file keys) in a fresh temp folder. */
export async function startBenchStack(env: Record<string, string> = {}): Promise<BenchStack> {
  const dataDir = await tempDir('data');
  let running: Awaited<ReturnType<typeof startLocal>> | undefined;
  try {
    const config = loadCheckedConfig({ DEV_ALLOW_EPHEMERAL: 'true', AEGIS_DATA_DIR: dataDir, PORT: '0', NODE_ENV: 'test', ...env });
    running = await startLocal(config, { logger: quiet });
    if (!running.newAdminToken) throw new Error('a fresh data folder should have produced an admin token');
    const admin = new AegisClient({ baseUrl: running.url, token: running.newAdminToken });
    const { token } = await admin.request<{ token: string }>('POST', '/v1/tokens', { principal: 'bench-publisher', role: 'publisher' });
    const r = running;
    const publisher = new AegisClient({ baseUrl: r.url, token });
    // registrations refuse unknown datasets: register the one every bench manifest names
    await registerDatasets(
      publisher,
      manifestFor('bench', '0'.repeat(64), 0).datasetRefs.map((ref) => ({ ...ref, uri: 'file:///bench' })),
    );
    return {
      url: r.url,
      publisher,
      admin,
      publisherToken: token,
      container: r.container,
      async close() {
        try {
          await r.close();
        } finally {
          await removeTree(dataDir);
        }
      },
    };
  } catch (e) {
    await running?.close().catch(() => undefined);
    await removeTree(dataDir);
    throw e;
  }
}

/**
 * Removes a temp folder. The object store leaves stored versions read-only (retention is
 * enforced by the store, not the filesystem), so on a permission error every folder is
 * made writable again and the removal retried.
 */
export async function removeTree(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true });
  } catch {
    await makeWritable(dir);
    await rm(dir, { recursive: true, force: true });
  }
}

async function makeWritable(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st || st.isSymbolicLink()) return;
  await chmod(path, st.isDirectory() ? 0o700 : 0o600).catch(() => undefined);
  if (st.isDirectory()) for (const name of await readdir(path)) await makeWritable(join(path, name));
}

/** A valid training manifest, created now. */
export const manifestFor = (modelName: string, artifactSha256: string, artifactSize: number) =>
  sampleManifest(modelName, artifactSha256, artifactSize, { createdAt: new Date().toISOString() });

/** Runs `worker` for indices 0..n-1 with at most `concurrency` in flight (one loop per client). */
export async function runConcurrent(n: number, concurrency: number, worker: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const loop = async () => {
    while (next < n) await worker(next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, loop));
}
