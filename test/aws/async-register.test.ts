/**
 * Asynchronous registration on AWS (issue 25), on what `cdk deploy` would ship (support/world.ts):
 * the synthesized bundles on emulators with AEGIS_REGISTER_ASYNC_BYTES lowered to 1 MiB. `aegis
 * register` reaches the bundled register function through the emulated API, which answers 202
 * and starts the synthesized register state machine (Hash → Commit, every Task the bundled
 * register-step function, which reads the object from moto S3 and signs with moto KMS); the CLI
 * polls the status route until the record is committed. A manifest with a wrong sha256 ends
 * failed with nothing registered.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { LIMITS } from '../../lib/kernel/manifest.js';
import { ApiError } from '../../lib/clients/http/client.js';
import type { RegisterPendingReply, RegisterReply, RegistrationStatusReply } from '../../lib/platform/http/schemas.js';
import { roleClient, runMigrations } from './support/callers.js';
import { ok } from './support/cli.js';
import { worldSuite } from './support/suite.js';

const MIB = 1024 * 1024;
const MODEL = 'aws-async';
jest.setTimeout(300_000);
let datasetChecksum: string;
const suite = worldSuite('aegis-async-work-', () => ({ extraEnv: () => ({ AEGIS_REGISTER_ASYNC_BYTES: String(MIB) }) }));
const { cli } = suite;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function manifest(fields: Record<string, unknown> = {}) {
  return {
    codeRef: 'git:4f2c1e0',
    containerDigest: `sha256:${'a'.repeat(64)}`,
    datasetRefs: [{ id: 'async-data', version: '1', checksum: datasetChecksum }],
    trainingCmd: 'python train.py',
    hyperparams: { lr: 0.1 },
    seed: 1,
    environment: { python: '3.11' },
    metrics: { auc: 0.9 },
    ...fields,
  };
}

async function until(id: string): Promise<RegistrationStatusReply> {
  const api = roleClient(suite.world, 'publisher');
  for (let i = 0; i < 600; i++) {
    const s = await api.request<RegistrationStatusReply>('GET', `/v1/registry/registrations/${id}`);
    if (s.status !== 'verifying') return s;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`registration ${id} still verifying\n${suite.world.logs.slice(-30).join('\n')}`);
}

describe('asynchronous registration on the synthesized artifacts', () => {
  it('registers an artifact above the threshold: 202, the register machine hashes and commits, the CLI prints the record, which verifies', async () => {
    expect((await runMigrations(suite.world, 'Create', 'async')).PhysicalResourceId).toBe('aegis-migrations');
    const data = join(suite.work, 'dataset.csv');
    writeFileSync(data, 'a,b,label\n1,2,0\n');
    const ds = await cli('publisher', ['datasets', 'register', '--id', 'async-data', '--version', '1', '--path', data]);
    ok(ds);
    datasetChecksum = ds.json.checksum;

    // over what `aegis register` sends in one request (always synchronous): it uploads, then registers
    const bytes = randomBytes(LIMITS.inlineArtifactBytes + 5);
    const artifact = join(suite.work, 'big.bin');
    writeFileSync(artifact, bytes);
    const manifestFile = join(suite.work, 'big.manifest.json');
    writeFileSync(manifestFile, JSON.stringify(manifest()));
    const r = await cli('publisher', ['register', '--model', MODEL, '--artifact', artifact, '--manifest', manifestFile]);
    ok(r);
    expect(r.stderr).toMatch(/registration [0-9a-f-]{36} is verifying asynchronously/);
    expect(r.json).toMatchObject({ modelName: MODEL, version: 1, sha256: sha256(bytes), replayed: false });

    const report = await roleClient(suite.world, 'auditor').request<{ ok: boolean }>('GET', `/v1/artifacts/${r.json.artifactId}/validate`);
    expect(report.ok).toBe(true);
    const events = await roleClient(suite.world, 'auditor').request<{ items: { type: string }[] }>(
      'GET',
      `/v1/audit?subject=${encodeURIComponent(`artifact:${r.json.artifactId}`)}`,
    );
    expect(events.items.map((e) => e.type).sort()).toEqual(['artifact.registered', 'manifest.signed']);
    // the execution ran on the synthesized register machine, every Task on the register-step bundle
    const runs = suite.world.sfn.executions().filter((e) => e.stateMachineLogicalId === 'RegisterStateMachine');
    expect(runs.map((e) => e.status)).toEqual(['SUCCEEDED']);
    expect(runs[0]!.tasks.map((t) => t.state)).toEqual(['Hash', 'Commit']);
  });

  it('ends failed with nothing registered when the bytes are not the manifest sha256', async () => {
    const api = roleClient(suite.world, 'publisher');
    const bytes = randomBytes(MIB + 100);
    const wrong = sha256(randomBytes(8));
    const up = await api.request<{ uploadId: string; url: string; headers: Record<string, string> }>('POST', '/v1/registry/uploads', {
      modelName: `${MODEL}-bad`,
      size: bytes.length,
    });
    const put = await fetch(up.url, { method: 'PUT', body: bytes, headers: up.headers });
    expect(put.status).toBe(200);
    const m = {
      ...manifest(),
      modelName: `${MODEL}-bad`,
      artifactSha256: wrong,
      artifactSize: bytes.length,
      createdAt: new Date().toISOString(),
    };
    const pending = await api.request<RegisterPendingReply>('POST', '/v1/registry/register', { uploadId: up.uploadId, manifest: m });
    expect(pending).toEqual({ registrationId: expect.any(String), status: 'verifying', totalBytes: bytes.length });
    const failed = await until(pending.registrationId);
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('SHA256_MISMATCH');
    expect(failed.error?.message).toContain(wrong);
    expect(failed.error?.message).toContain(sha256(bytes));
    const missing = await api.request('GET', `/v1/registry/models/${MODEL}-bad/versions`).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ApiError);
    expect((missing as ApiError).status).toBe(404);
    const run = suite.world.sfn.executions().find((e) => e.name === pending.registrationId);
    expect(run).toMatchObject({ stateMachineLogicalId: 'RegisterStateMachine', status: 'FAILED', error: 'RegistrationFailed' });
  });

  it('registers below the threshold synchronously: an upload PUT to its presigned URL, and a small artifact in one request that the register function writes to S3', async () => {
    const api = roleClient(suite.world, 'publisher');
    const model = `${MODEL}-sync`;
    const createdAt = new Date().toISOString();
    const manifestOf = (b: Buffer) => ({ ...manifest(), modelName: model, artifactSha256: sha256(b), artifactSize: b.length, createdAt });
    const uploaded = randomBytes(5000);
    const up = await api.request<{ uploadId: string; url: string; headers: Record<string, string> }>('POST', '/v1/registry/uploads', {
      modelName: model,
      size: uploaded.length,
      sha256: sha256(uploaded),
    });
    expect((await fetch(up.url, { method: 'PUT', body: uploaded, headers: up.headers })).status).toBe(200);
    const first = await api.request<RegisterReply>('POST', '/v1/registry/register', {
      uploadId: up.uploadId,
      manifest: manifestOf(uploaded),
    });
    expect(first).toMatchObject({ modelName: model, version: 1, sha256: sha256(uploaded), replayed: false });

    const bytes = randomBytes(70_000);
    const body = { manifest: manifestOf(bytes), artifact: bytes.toString('base64') };
    const second = await api.request<RegisterReply>('POST', '/v1/registry/artifacts', body);
    expect(second).toMatchObject({ modelName: model, version: 2, sha256: sha256(bytes), replayed: false });
    // validation reads the bytes the function wrote back from S3 and checks them against the KMS-signed manifest
    const report = await roleClient(suite.world, 'auditor').request<{ ok: boolean }>('GET', `/v1/artifacts/${second.artifactId}/validate`);
    expect(report.ok).toBe(true);
    expect(await api.request<RegisterReply>('POST', '/v1/registry/artifacts', body)).toEqual({ ...second, replayed: true });
    // bytes that are not the manifest's: refused before anything is written
    const wrong = await api
      .request('POST', '/v1/registry/artifacts', { ...body, artifact: randomBytes(70_000).toString('base64') })
      .catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ApiError);
    expect(wrong).toMatchObject({ status: 422, code: 'SHA256_MISMATCH', field: 'manifest.artifactSha256' });
  });
});
