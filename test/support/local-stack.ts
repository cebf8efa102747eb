import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { loadCheckedConfig } from '../../lib/platform/config.js';
import type { BuildOptions } from '../../lib/platform/composition/services.js';
import { startLocal, type RunningLocal } from '../../lib/platform/composition/local-start.js';
import { sampleManifest } from './manifests.js';
import { checkedHandlers, REPLY_MISMATCH } from './replies.js';

export interface Stack extends RunningLocal {
  dataDir: string;
  adminToken: string;
  /**
   * fetch against the stack with a bearer token (admin by default). Every reply of the stack is
   * checked against its route's reply schema (test/support/replies.ts): one that does not match
   * fails the call, naming the route and the problem.
   */
  api(
    method: string,
    path: string,
    body?: unknown,
    opts?: { token?: string | null; headers?: Record<string, string>; raw?: string },
  ): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The whole local stack (PGlite in a temp data folder, fs store, file keys) on a free port. */
export async function startStack(
  env: Record<string, string> = {},
  opts: Pick<BuildOptions, 'judge' | 'warmer' | 'waitMs' | 'clock' | 'timers'> & { dataDir?: string } = {},
): Promise<Stack> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'aegis-test-')));
  const config = loadCheckedConfig({ DEV_ALLOW_EPHEMERAL: 'true', AEGIS_DATA_DIR: dataDir, PORT: '0', NODE_ENV: 'test', ...env });
  const { dataDir: _d, ...buildOpts } = opts;
  // every reply the stack gives (to this helper, the CLI or a raw fetch), checked against its route's schema
  const mismatches: string[] = [];
  const running = await startLocal(config, { logger: quiet, handlers: checkedHandlers(mismatches), ...buildOpts });
  const adminToken =
    running.newAdminToken ?? (await import('node:fs/promises').then((f) => f.readFile(join(dataDir, 'admin.token'), 'utf8'))).trim();
  return {
    ...running,
    dataDir,
    adminToken,
    async api(method, path, body, opts = {}) {
      const token = opts.token === undefined ? adminToken : opts.token;
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (token) headers.authorization = `Bearer ${token}`;
      const payload = opts.raw ?? (body === undefined ? undefined : JSON.stringify(body));
      if (payload !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${running.url}${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* keep text */
      }
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      if (error?.code === REPLY_MISMATCH) throw new Error(error.message);
      return { status: res.status, body: parsed };
    },
    async stop() {
      await running.close();
      await rm(dataDir, { recursive: true, force: true });
      if (mismatches.length) throw new Error(`replies that do not match their route's schema:\n${mismatches.join('\n')}`);
    },
  };
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export const manifestFor = (modelName: string, artifact: Buffer, overrides: Record<string, unknown> = {}) =>
  sampleManifest(modelName, sha256(artifact), artifact.length, overrides);

/** Registers (idempotently) the datasets a manifest names, as a training run would first. */
export async function registerDatasets(stack: Stack, manifest: Record<string, unknown>, token?: string) {
  for (const ref of (manifest.datasetRefs as { id: string; version: string; checksum: string }[] | undefined) ?? []) {
    const res = await stack.api(
      'POST',
      '/v1/datasets',
      { id: ref.id, version: ref.version, checksum: ref.checksum, uri: `file:///data/${ref.id}` },
      token ? { token } : {},
    );
    if (res.status !== 201 && res.status !== 200) throw new Error(`dataset: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

/** Upload + register through the HTTP API, as the CLI does; `datasets: false` skips registering the datasets first. */
export async function uploadAndRegister(
  stack: Stack,
  modelName: string,
  artifact: Buffer,
  opts: { manifest?: Record<string, unknown>; token?: string; headers?: Record<string, string>; datasets?: boolean; team?: string } = {},
) {
  const manifest = opts.manifest ?? manifestFor(modelName, artifact);
  if (opts.datasets !== false) await registerDatasets(stack, manifest, opts.token);
  const team = opts.team ? { team: opts.team } : {};
  const up = await stack.api(
    'POST',
    '/v1/registry/uploads',
    { modelName, size: artifact.length, ...team },
    opts.token ? { token: opts.token } : {},
  );
  if (up.status !== 201) throw new Error(`upload target: ${up.status} ${JSON.stringify(up.body)}`);
  const put = await fetch(up.body.url, { method: 'PUT', body: artifact, headers: up.body.headers ?? {} });
  if (put.status !== 200) throw new Error(`upload: ${put.status} ${await put.text()}`);
  return stack.api(
    'POST',
    '/v1/registry/register',
    { uploadId: up.body.uploadId, manifest, ...team },
    { ...(opts.token ? { token: opts.token } : {}), ...(opts.headers ? { headers: opts.headers } : {}) },
  );
}
