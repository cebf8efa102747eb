import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AegisClient } from '../../lib/clients/http/client.js';
import { uploadParts } from '../../lib/clients/http/multipart-upload.js';
import { manifestFor, registerDatasets, sha256, startStack, type Stack } from '../support/local-stack.js';
import { startPartProxy, type PartProxy } from '../support/part-proxy.js';
import { aegisCli } from '../support/spawn.js';

/**
 * `aegis register` sends the parts of a multipart upload several at a time
 * (AEGIS_UPLOAD_CONCURRENCY) and retries a part within the run (issue 25): through real HTTP,
 * with a proxy in front of the local stack losing, failing, corrupting or holding back chosen
 * part PUTs. Parts of 5 MiB (S3's minimum); files of four parts.
 */
const PART = 5 * 1024 * 1024;

let stack: Stack;
let proxy: PartProxy;
let alice: string;

beforeAll(async () => {
  proxy = await startPartProxy();
  stack = await startStack({ AEGIS_MULTIPART_PART_BYTES: String(PART), AEGIS_PUBLIC_URL: proxy.url });
  proxy.target = stack.url;
  alice = (await stack.api('POST', '/v1/tokens', { principal: 'alice', role: 'publisher' })).body.token;
});
afterAll(async () => {
  await stack?.stop();
  await proxy?.close();
});
beforeEach(() => proxy.reset());

/** A four-part artifact and its manifest (the CLI adds the sha256 and size), its datasets registered. */
async function artifactFor(model: string) {
  const bytes = randomBytes(3 * PART + 4096);
  const file = join(stack.dataDir, `${model}.bin`);
  await writeFile(file, bytes);
  const { artifactSha256: _s, artifactSize: _z, ...manifest } = manifestFor(model, bytes);
  const manifestFile = join(stack.dataDir, `${model}.manifest.json`);
  await writeFile(manifestFile, JSON.stringify(manifest));
  await registerDatasets(stack, manifest, alice);
  return { bytes, file, manifestFile };
}

const stateDir = (model: string) => join(stack.dataDir, `state-${model}`);
const register = (model: string, a: { file: string; manifestFile: string }, env: Record<string, string> = {}) =>
  aegisCli(['--json', 'register', '--model', model, '--artifact', a.file, '--manifest', a.manifestFile], {
    AEGIS_URL: proxy.url,
    AEGIS_DATA_DIR: stack.dataDir,
    AEGIS_TOKEN: alice,
    AEGIS_MULTIPART_THRESHOLD: String(PART),
    AEGIS_STATE_DIR: stateDir(model),
    ...env,
  });
const versions = async (model: string) =>
  ((await stack.api('GET', `/v1/registry/models/${model}/versions`)).body.items as { sha256: string }[]).map((v) => v.sha256);
const count = (list: number[], n: number) => list.filter((p) => p === n).length;

describe('aegis register sends parts in parallel and retries them', () => {
  it('sends again, within the run, a part whose connection was lost and one answered 503, and registers once', async () => {
    const a = await artifactFor('mpc-retry');
    proxy.faults.set(2, ['drop']);
    proxy.faults.set(3, ['unavailable']);
    const ran = await register('mpc-retry', a);
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ sha256: sha256(a.bytes), version: 1, replayed: false });
    expect([count(proxy.puts, 1), count(proxy.puts, 2), count(proxy.puts, 3), count(proxy.puts, 4)]).toEqual([1, 2, 2, 1]);
    expect([...proxy.received].sort()).toEqual([1, 2, 3, 4]);
    expect(await versions('mpc-retry')).toEqual([sha256(a.bytes)]);
    expect(await readdir(join(stateDir('mpc-retry'), 'uploads'))).toEqual([]);
  });

  it('registers parts that arrive out of order', async () => {
    const a = await artifactFor('mpc-order');
    // part 1 reaches the server only after the three others
    proxy.hold = { part: 1, after: [2, 3, 4] };
    const ran = await register('mpc-order', a);
    expect(ran.code).toBe(0);
    expect(proxy.received).toHaveLength(4);
    expect(proxy.received[3]).toBe(1);
    expect(await versions('mpc-order')).toEqual([sha256(a.bytes)]);
  });

  it('reports a part the server refuses (sha256 mismatch) naming it, without sending it again; the next run resumes and registers once', async () => {
    const a = await artifactFor('mpc-refused');
    proxy.faults.set(2, ['corrupt']);
    const ran = await register('mpc-refused', a);
    expect(ran.code).toBe(1);
    const { error } = JSON.parse(ran.stdout) as { error: { code: string; message: string; status: number } };
    expect(error).toMatchObject({ code: 'SHA256_MISMATCH', status: 422 });
    expect(error.message).toMatch(/^part 2 of 4: /);
    expect(count(proxy.puts, 2)).toBe(1);
    // the upload is remembered; parts finished in whatever order: the server says which arrived
    expect(await readdir(join(stateDir('mpc-refused'), 'uploads'))).toEqual([`${sha256(a.bytes)}.json`]);
    const arrived = [...proxy.received];
    expect(arrived).not.toContain(2);

    proxy.reset();
    const again = await register('mpc-refused', a);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`${arrived.length} of 4 parts already received`);
    expect([...proxy.puts].sort()).toEqual([1, 2, 3, 4].filter((n) => !arrived.includes(n)));
    expect(await versions('mpc-refused')).toEqual([sha256(a.bytes)]);
  });

  it('asks the parts route again for a part whose URL expired', async () => {
    const a = await artifactFor('mpc-expired');
    proxy.faults.set(3, ['expired']);
    const ran = await register('mpc-expired', a);
    expect(ran.code).toBe(0);
    expect(count(proxy.puts, 3)).toBe(2);
    // part 3 asked for twice: with its group, then alone
    expect(proxy.asked.flat().filter((n) => n === 3)).toHaveLength(2);
    expect(proxy.asked).toContainEqual([3]);
    expect(await versions('mpc-expired')).toEqual([sha256(a.bytes)]);
  });

  it.each(['0', '17', 'four'])('refuses AEGIS_UPLOAD_CONCURRENCY=%s naming it (exit 2)', async (value) => {
    const a = await artifactFor(`mpc-conc-${value}`);
    const ran = await register(`mpc-conc-${value}`, a, { AEGIS_UPLOAD_CONCURRENCY: value });
    expect(ran.code).toBe(2);
    expect(JSON.parse(ran.stdout).error.message).toContain('AEGIS_UPLOAD_CONCURRENCY');
    expect(proxy.puts).toEqual([]);
  });
});

describe('progress of a parallel upload', () => {
  /** Uploads the parts in process (the CLI's code) through the proxy, recording every progress report. */
  async function uploadRecorded(model: string) {
    const a = await artifactFor(model);
    const seen: number[] = [];
    const totals = new Set<number>();
    const uploadId = await uploadParts(new AegisClient({ baseUrl: proxy.url, token: alice }), {
      stateDir: stateDir(model),
      apiUrl: proxy.url,
      modelName: model,
      file: a.file,
      size: a.bytes.length,
      sha256: sha256(a.bytes),
      concurrency: 4,
      backoffMs: 10,
      onProgress: (sent, total) => {
        totals.add(total);
        seen.push(sent);
      },
    });
    const status = await stack.api('POST', `/v1/registry/uploads/${uploadId}/parts`, { parts: [] }, { token: alice });
    expect(status.body.uploaded).toHaveLength(4);
    expect([...totals]).toEqual([a.bytes.length]);
    return { size: a.bytes.length, seen };
  }

  it('only grows while parts finish side by side, and ends at the size', async () => {
    const { size, seen } = await uploadRecorded('mpc-progress');
    expect(seen.every((v, i) => i === 0 || v >= seen[i - 1]!)).toBe(true);
    expect(seen.at(-1)).toBe(size);
  });

  it("drops a failed attempt's bytes and counts the part once when sent again: never above the size", async () => {
    proxy.faults.set(1, ['drop']);
    const { size, seen } = await uploadRecorded('mpc-progress-retry');
    expect(count(proxy.puts, 1)).toBe(2);
    expect(Math.max(...seen)).toBeLessThanOrEqual(size);
    expect(seen.at(-1)).toBe(size);
  });
});
