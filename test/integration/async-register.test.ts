import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { LIMITS } from '../../lib/kernel/manifest.js';
import { loadConfig } from '../../lib/platform/config.js';
import type { ObjectStore } from '../../lib/platform/ports/object-store.js';
import { manifestFor, registerDatasets, sha256, startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { spawn } from 'node:child_process';
import { aegisCli, type Ran } from '../support/spawn.js';

/**
 * Asynchronous registration of large artifacts (issue 25), through real HTTP on the local
 * stack: above AEGIS_REGISTER_ASYNC_BYTES (lowered to 1 MiB here) the register route answers
 * 202 once the checks that need no byte pass, the `register` state machine (the same ASL as on
 * AWS, in-process) hashes the object and commits the record through the synchronous path's code.
 */
const MIB = 1024 * 1024;
const THRESHOLD = MIB;
/** `aegis register` sends files up to LIMITS.inlineArtifactBytes in one request (always synchronous): larger ones upload */
const OVER_INLINE = LIMITS.inlineArtifactBytes;

let stack: Stack;
let alice: string;
let bob: string;
/** while set, reads of the store's artifact bytes stop after this many bytes until `release` */
let gate: { after: number; opened: Promise<void>; release: () => void } | undefined;

function hold(after: number) {
  let release!: () => void;
  const opened = new Promise<void>((r) => (release = r));
  gate = { after, opened, release };
  return gate;
}

/** Holds a stream after `g.after` bytes until the gate opens. */
function gated(stream: Readable, g: NonNullable<typeof gate>): Readable {
  let passed = 0;
  return stream.pipe(
    new Transform({
      transform(chunk: Buffer, _enc, cb) {
        const before = passed;
        passed += chunk.length;
        if (before < g.after && passed >= g.after) void g.opened.then(() => cb(null, chunk));
        else cb(null, chunk);
      },
    }),
  );
}

beforeAll(async () => {
  stack = await startStack({ AEGIS_REGISTER_ASYNC_BYTES: String(THRESHOLD) });
  alice = (await stack.api('POST', '/v1/tokens', { principal: 'alice', role: 'publisher' })).body.token;
  bob = (await stack.api('POST', '/v1/tokens', { principal: 'bob', role: 'publisher' })).body.token;
  const store: ObjectStore = stack.container.store;
  const get = store.get.bind(store);
  store.get = async (key, opts) => {
    const s = await get(key, opts);
    return gate && key.endsWith('/artifact') ? gated(s, gate) : s;
  };
});
afterEach(() => {
  gate?.release();
  gate = undefined;
});
afterAll(async () => {
  await stack?.stop();
});

type Status = {
  status: string;
  bytesHashed: number;
  totalBytes: number;
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
};

async function statusOf(id: string, token = alice) {
  return stack.api('GET', `/v1/registry/registrations/${id}`, undefined, { token });
}

/** Polls until `done` holds (the registration's execution runs in this process). */
async function until(id: string, done: (s: Status) => boolean): Promise<Status> {
  for (let i = 0; i < 500; i++) {
    const s = (await statusOf(id)).body as Status;
    if (done(s)) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`registration ${id} never reached the awaited state`);
}

/** `aegis_registry_registrations_total{outcome="created"}` as the server's /metrics says now. */
async function createdCount(): Promise<number> {
  const text = await (await fetch(`${stack.url}/metrics`)).text();
  return Number(/aegis_registry_registrations_total\{outcome="created"\} (\d+)/.exec(text)?.[1] ?? 0);
}

async function upload(model: string, bytes: Buffer, token = alice) {
  const up = await stack.api('POST', '/v1/registry/uploads', { modelName: model, size: bytes.length }, { token });
  expect(up.status).toBe(201);
  const put = await fetch(up.body.url, { method: 'PUT', body: bytes, headers: up.body.headers });
  expect(put.status).toBe(200);
  return up.body.uploadId as string;
}

async function auditTypes(artifactId: string): Promise<string[]> {
  const res = await stack.api('GET', `/v1/audit?subject=${encodeURIComponent(`artifact:${artifactId}`)}`);
  expect(res.status).toBe(200);
  return (res.body.items as { type: string }[]).map((e) => e.type).sort();
}

describe('a registration above AEGIS_REGISTER_ASYNC_BYTES', () => {
  it('answers 202, shows its hashing progress, and commits a record shaped like the synchronous one, with the same events', async () => {
    const bytes = randomBytes(3 * MIB + 123);
    const manifest = manifestFor('async-big', bytes);
    await registerDatasets(stack, manifest, alice);
    const uploadId = await upload('async-big', bytes);
    hold(MIB + MIB / 2);
    const res = await stack.api('POST', '/v1/registry/register', { uploadId, manifest }, { token: alice });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ registrationId: expect.any(String), status: 'verifying', totalBytes: bytes.length });
    const id = res.body.registrationId as string;

    // progress: held part way, the registration shows what it hashed so far
    const partWay = await until(id, (s) => s.bytesHashed > 0);
    expect(partWay.status).toBe('verifying');
    expect(partWay.bytesHashed).toBeLessThan(bytes.length);
    expect(partWay.result).toBeUndefined();

    // replayed while it runs: the same registration
    const again = await stack.api('POST', '/v1/registry/register', { uploadId, manifest }, { token: alice });
    expect(again.status).toBe(202);
    expect(again.body.registrationId).toBe(id);

    const counted = await createdCount();
    gate!.release();
    const done = await until(id, (s) => s.status !== 'verifying');
    expect(done).toMatchObject({ status: 'registered', bytesHashed: bytes.length, totalBytes: bytes.length });
    // counted once, when the machine committed it, as a synchronous registration is
    expect(await createdCount()).toBe(counted + 1);
    expect(done.result).toMatchObject({ modelName: 'async-big', version: 1, sha256: sha256(bytes), replayed: false });
    expect(done).toMatchObject({ artifactId: done.result!.artifactId, version: 1 });

    // the record and its events are those of a synchronous registration (a small artifact of the same model)
    const small = await uploadAndRegister(stack, 'async-big', randomBytes(1000), { token: alice });
    expect(small.status).toBe(201);
    expect(Object.keys(done.result!).sort()).toEqual(Object.keys(small.body).sort());
    const bigRecord = await stack.api('GET', `/v1/artifacts/${done.result!.artifactId}`);
    const smallRecord = await stack.api('GET', `/v1/artifacts/${small.body.artifactId}`);
    expect(bigRecord.body).toMatchObject({ sha256: sha256(bytes), size: bytes.length, createdBy: 'alice' });
    expect(Object.keys(bigRecord.body).sort()).toEqual(Object.keys(smallRecord.body).sort());
    expect(await auditTypes(done.result!.artifactId as string)).toEqual(await auditTypes(small.body.artifactId));
    const validated = await stack.api('GET', `/v1/artifacts/${done.result!.artifactId}/validate`);
    expect(validated.body.ok).toBe(true);

    // once done, the request answers as the synchronous path does for a repeat: the replay
    const replay = await stack.api('POST', '/v1/registry/register', { uploadId, manifest }, { token: alice });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ artifactId: done.result!.artifactId, version: 1, replayed: true });
  });

  it('ends failed when the bytes are not the manifest sha256, naming expected and actual, and registers nothing', async () => {
    const bytes = randomBytes(2 * MIB);
    const wrong = sha256(randomBytes(16));
    const manifest = manifestFor('async-mismatch', bytes, { artifactSha256: wrong });
    await registerDatasets(stack, manifest, alice);
    const uploadId = await upload('async-mismatch', bytes);
    const res = await stack.api('POST', '/v1/registry/register', { uploadId, manifest }, { token: alice });
    expect(res.status).toBe(202);
    const failed = await until(res.body.registrationId, (s) => s.status !== 'verifying');
    expect(failed.status).toBe('failed');
    expect(failed.error!.code).toBe('SHA256_MISMATCH');
    expect(failed.error!.message).toContain(wrong);
    expect(failed.error!.message).toContain(sha256(bytes));
    expect(failed.result).toBeUndefined();
    const versions = await stack.api('GET', '/v1/registry/models/async-mismatch/versions');
    expect(versions.status).toBe(404);
    const events = await stack.api('GET', `/v1/audit?type=artifact.registered&limit=1000`);
    expect((events.body.items as { payload: { modelName: string } }[]).filter((e) => e.payload.modelName === 'async-mismatch')).toEqual([]);
  });

  it('is seen by its creator and a global admin only (404 for anyone else), and a malformed id is a 400 naming registrationId', async () => {
    const bytes = randomBytes(MIB + 1);
    const manifest = manifestFor('async-owner', bytes);
    await registerDatasets(stack, manifest, alice);
    const uploadId = await upload('async-owner', bytes);
    const res = await stack.api('POST', '/v1/registry/register', { uploadId, manifest }, { token: alice });
    expect(res.status).toBe(202);
    const id = res.body.registrationId as string;
    const other = await statusOf(id, bob);
    expect(other.status).toBe(404);
    expect(other.body.error).toMatchObject({ code: 'NOT_FOUND', field: 'registrationId' });
    expect((await statusOf(id, stack.adminToken)).status).toBe(200);
    const missing = await statusOf('00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    const bad = await statusOf('not-a-uuid');
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('registrationId');
    await until(id, (s) => s.status === 'registered');
  });

  it('retries a transient failure to read the bytes, and records a persistent one as failed (nothing registered)', async () => {
    const store = stack.container.store;
    const get = store.get;
    let failures = 1;
    store.get = async (key, opts) => {
      if (key.endsWith('/artifact') && failures-- > 0) throw new Error('transient read failure');
      return get.call(store, key, opts);
    };
    try {
      const bytes = randomBytes(MIB + 10);
      const manifest = manifestFor('async-retry', bytes);
      await registerDatasets(stack, manifest, alice);
      const res = await stack.api(
        'POST',
        '/v1/registry/register',
        { uploadId: await upload('async-retry', bytes), manifest },
        { token: alice },
      );
      expect(res.status).toBe(202);
      expect((await until(res.body.registrationId, (s) => s.status !== 'verifying')).status).toBe('registered');
      expect(failures).toBe(-1); // failed once, then read

      failures = 1000;
      const other = randomBytes(MIB + 20);
      const m2 = manifestFor('async-broken', other);
      await registerDatasets(stack, m2, alice);
      const brokenUpload = await upload('async-broken', other);
      const res2 = await stack.api('POST', '/v1/registry/register', { uploadId: brokenUpload, manifest: m2 }, { token: alice });
      const failed = await until(res2.body.registrationId, (s) => s.status !== 'verifying');
      expect(failed.status).toBe('failed');
      expect(failed.error).toEqual({ code: 'INTERNAL', message: expect.stringContaining('transient read failure') });
      expect((await stack.api('GET', '/v1/registry/models/async-broken/versions')).status).toBe(404);

      // requested again once the store works: a new registration, which registers
      failures = 0;
      const retry = await stack.api('POST', '/v1/registry/register', { uploadId: brokenUpload, manifest: m2 }, { token: alice });
      expect(retry.status).toBe(202);
      expect(retry.body.registrationId).not.toBe(res2.body.registrationId);
      expect((await until(retry.body.registrationId, (s) => s.status !== 'verifying')).status).toBe('registered');
    } finally {
      store.get = get;
    }
  });

  it('stays synchronous at or below the threshold (201)', async () => {
    const res = await uploadAndRegister(stack, 'async-small', randomBytes(THRESHOLD), { token: alice });
    expect(res.status).toBe(201);
  });
});

describe('aegis register and an asynchronous registration', () => {
  it('waits for it, shows its progress on stderr and prints what the synchronous path prints', async () => {
    const dir = stack.dataDir;
    const artifact = join(dir, 'async-cli.bin');
    const bytes = randomBytes(OVER_INLINE + 7);
    await writeFile(artifact, bytes);
    const manifestFile = join(dir, 'async-cli.manifest.json');
    const { artifactSha256: _s, artifactSize: _z, ...manifest } = manifestFor('async-cli', bytes);
    await writeFile(manifestFile, JSON.stringify(manifest));
    await registerDatasets(stack, manifest, alice);
    const env = { AEGIS_URL: stack.url, AEGIS_DATA_DIR: dir, AEGIS_TOKEN: alice, AEGIS_STATE_DIR: join(dir, 'cli-state') };
    const json = await aegisCli(['--json', 'register', '--model', 'async-cli', '--artifact', artifact, '--manifest', manifestFile], env);
    expect(json.code).toBe(0);
    expect(json.stderr).toMatch(/registration [0-9a-f-]{36} is verifying asynchronously/);
    expect(json.stderr).toContain('verifying 100%');
    const printed = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(printed).toMatchObject({ modelName: 'async-cli', version: 1, sha256: sha256(bytes), replayed: false });
    expect(Object.keys(printed).sort()).toEqual(
      ['artifactId', 'manifestSignatureId', 'modelName', 'replayed', 'sha256', 'signerId', 'version'].sort(),
    );
    // run again: the registration is done, so the same command replays it
    const text = await aegisCli(['register', '--model', 'async-cli', '--artifact', artifact, '--manifest', manifestFile], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`already registered async-cli v1`);
    expect(text.stdout).toContain(String(printed.artifactId));
  });
});

/** `aegis …` as a child whose stderr `watch` sees as it arrives (it may interrupt the child). */
function watchedCli(args: string[], env: Record<string, string>, watch: (stderr: string, interrupt: () => void) => void): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const { NODE_OPTIONS: _omit, ...base } = process.env;
    const child = spawn(process.execPath, [join(process.cwd(), 'bin/aegis.js'), ...args], {
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      watch(stderr, () => child.kill('SIGINT'));
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('aegis register interrupted while its registration verifies', () => {
  it('leaves the registration running on Ctrl-C, and the same command picks it up and prints its result', async () => {
    const dir = stack.dataDir;
    const artifact = join(dir, 'async-ctrlc.bin');
    const bytes = randomBytes(OVER_INLINE + 11);
    await writeFile(artifact, bytes);
    const manifestFile = join(dir, 'async-ctrlc.manifest.json');
    const { artifactSha256: _s, artifactSize: _z, ...manifest } = manifestFor('async-ctrlc', bytes);
    await writeFile(manifestFile, JSON.stringify(manifest));
    await registerDatasets(stack, manifest, alice);
    const env = { AEGIS_URL: stack.url, AEGIS_DATA_DIR: dir, AEGIS_TOKEN: alice, AEGIS_STATE_DIR: join(dir, 'cli-state') };
    const args = ['--json', 'register', '--model', 'async-ctrlc', '--artifact', artifact, '--manifest', manifestFile];
    const held = hold(MIB);
    const idOf = (stderr: string) => /registration ([0-9a-f-]{36}) is verifying/.exec(stderr)?.[1];

    const first = await watchedCli(args, env, (stderr, interrupt) => {
      if (idOf(stderr)) interrupt();
    });
    expect(first.code).not.toBe(0);
    const id = idOf(first.stderr)!;
    expect((await statusOf(id)).body).toMatchObject({ status: 'verifying' });

    const second = await watchedCli(args, env, (stderr) => {
      if (idOf(stderr)) held.release();
    });
    expect(second.code).toBe(0);
    expect(idOf(second.stderr)).toBe(id);
    expect(JSON.parse(second.stdout)).toMatchObject({ modelName: 'async-ctrlc', version: 1, sha256: sha256(bytes), replayed: false });
    expect((await statusOf(id)).body).toMatchObject({ status: 'registered', bytesHashed: bytes.length });
  });
});

describe('a local server stopped while a registration verifies', () => {
  it('hashes and commits it again when it starts on the same data folder', async () => {
    const env = { AEGIS_REGISTER_ASYNC_BYTES: String(THRESHOLD) };
    const first = await startStack(env);
    const bytes = randomBytes(2 * MIB + 3);
    const manifest = manifestFor('async-restart', bytes);
    await registerDatasets(first, manifest);
    // the first server's hashing never gets past 1 MiB
    const store: ObjectStore = first.container.store;
    const get = store.get.bind(store);
    const never = { after: MIB + MIB / 2, opened: new Promise<void>(() => undefined), release: () => undefined };
    const held: Readable[] = [];
    store.get = async (key, opts) => {
      const read = gated(await get(key, opts), never);
      held.push(read);
      return read;
    };
    const up = await first.api('POST', '/v1/registry/uploads', { modelName: 'async-restart', size: bytes.length });
    expect((await fetch(up.body.url, { method: 'PUT', body: bytes, headers: up.body.headers })).status).toBe(200);
    const res = await first.api('POST', '/v1/registry/register', { uploadId: up.body.uploadId, manifest });
    expect(res.status).toBe(202);
    const id = res.body.registrationId as string;
    for (let i = 0; i < 500 && (await first.api('GET', `/v1/registry/registrations/${id}`)).body.bytesHashed === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    await first.close();
    // the first server's read, still held, fails (its execution was stopped with the server): its task's timer ends
    for (const h of held) h.destroy(new Error('the server stopped'));

    const second = await startStack(env, { dataDir: first.dataDir });
    try {
      let s: Status | undefined;
      for (let i = 0; i < 500; i++) {
        s = (await second.api('GET', `/v1/registry/registrations/${id}`)).body as Status;
        if (s.status !== 'verifying') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(s).toMatchObject({ status: 'registered', bytesHashed: bytes.length, result: { modelName: 'async-restart', version: 1 } });
    } finally {
      await second.stop();
    }
  });
});

describe('AEGIS_REGISTER_ASYNC_BYTES', () => {
  it('is refused at startup when it is not a positive integer, naming the variable', () => {
    for (const v of ['0', '-5', '1.5', 'lots'])
      expect(() => loadConfig({ AEGIS_REGISTER_ASYNC_BYTES: v })).toThrow(/AEGIS_REGISTER_ASYNC_BYTES/);
    expect(loadConfig({}).registration.asyncBytes).toBe(2 * 1024 ** 3);
  });
});
